"""What the API answers for each record (``POST /predict``, and each of ``/predict/batch``'s).

``Answer`` holds the ``prediction`` and, for classification, ``probabilities`` (class ->
probability); both endpoints build every answer through it, validated, and the OpenAPI schema
(``/docs``) documents it. A field is added here, in one place: a ``computed_field`` of the
prediction, or a field that ``of`` fills from the record's features as well, e.g.::

    from pydantic import computed_field

    class Answer(answers.Answer):
        @computed_field
        @property
        def confident(self) -> bool:
            return self.probabilities is None or max(self.probabilities.values()) > 0.8

The request model is the schema's features (``configs/schema.yaml``); the envelope
(``model_version``, ``request_id``, ``ignored``) is the runtime's.
"""

from prodml_runtime.serving import contract as answers


class Answer(answers.Answer):
    """One record's answer."""
