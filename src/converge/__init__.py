"""converge: a declarative reconciler for NAS and homelab hosts."""

__version__ = "0.1.0"
