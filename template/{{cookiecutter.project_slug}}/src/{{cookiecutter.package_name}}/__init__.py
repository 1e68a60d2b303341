"""Production-shaped tabular ML project: schema, data checks, training, registry and serving."""
