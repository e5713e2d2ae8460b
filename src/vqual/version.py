"""The package version, in a module of its own so that any part of vqual can read it without importing the package
`__init__` (pyproject.toml reads it from here too)."""

__version__ = "0.1.0"
