"""edge-harness: hardware-in-the-loop benchmarking of TinyML and edge models."""

__version__ = "0.1.0"
