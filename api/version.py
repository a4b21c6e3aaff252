"""The package version (a leaf module: anything may import it)."""

__version__ = "1.0.0"
