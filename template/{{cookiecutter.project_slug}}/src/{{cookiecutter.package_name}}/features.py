"""Derived features: model inputs computed from a row's features, registered by name.

Decorate a function with ``@FEATURES``: it takes the features as the pipeline reads them (a
column per feature of ``configs/schema.yaml``: numbers and booleans as floats, categories as
text, dates as timestamps) and returns one number per row, the model input named after it.
Training, batch scoring, the API and the model file take it from here; nothing else changes.
For example, with two numeric features ``charges`` and ``months``::

    @FEATURES
    def charges_per_month(features):
        return features["charges"] / (features["months"] + 1)

Written with arithmetic and numpy functions, a derived feature also runs on the API's compiled
fast path; one that uses pandas' own methods makes the API score through the pipeline instead
(``GET /model`` shows which). Retrain (``make train``) after changing one.
"""

from prodml_runtime.training.derived import DerivedFeatures

FEATURES = DerivedFeatures()
