"""What both web servers share: loading the champion and checking it matches the schema."""

from __future__ import annotations

from .registry import LoadedModel, RegistryError, load, model_dir
from .schema import Schema


def load_for_serving(schema: Schema) -> LoadedModel:
    """The champion from ``$MODEL_DIR``, refused if trained on a different schema than served."""
    model = load(model_dir())
    if model.schema != schema:
        raise RegistryError(
            f"model {model.version} was trained on a different schema than the one served; "
            "retrain (`make train`) or promote a matching version"
        )
    return model
