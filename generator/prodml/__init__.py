"""prodml: generate production-shaped tabular ML repositories."""

__version__ = "0.2.0"
