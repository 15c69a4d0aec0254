"""Storage kinds: pools, datasets and snapshots, with their ZFS and btrfs drivers and readers."""
