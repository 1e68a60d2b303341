"""Pure building blocks: the feature schema, type coercion, validation, metrics and the
promotion gate. Nothing here reads files or the environment."""
