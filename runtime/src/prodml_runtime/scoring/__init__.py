"""Batch scoring: files scored in chunks, validated, written atomically and logged."""
