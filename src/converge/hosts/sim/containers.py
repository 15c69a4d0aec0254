"""Emulated tools of the simulated host (filled in with the kind that uses them)."""
