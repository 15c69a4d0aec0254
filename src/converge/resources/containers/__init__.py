"""Container kinds: podman/docker containers, LXC, and container networks."""
