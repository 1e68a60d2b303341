"""Monitoring: drift and data checks against the training reference, live quality, the report."""
