"""Side effects: tables on disk, the model registry and its artifacts, the prediction log,
the runs store, and the atomic writes they all use."""
