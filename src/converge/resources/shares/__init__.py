"""Share kinds: SMB shares (one smb.conf include) and NFS exports (one exports file)."""
