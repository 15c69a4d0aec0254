"""The interface kind: ip -j reads, batched ip steps, persistence and the connectivity guard."""
