"""Data: the synthetic sample made from the schema, and exploratory analysis."""
