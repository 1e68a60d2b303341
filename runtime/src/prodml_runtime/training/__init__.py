"""Training: the feature pipeline, the searches and the champion choice, the evaluation and
its reports, run tracking."""
