"""A project as the runtime runs it: the options it was generated with, and where its parts are.

The parts are the project's own code: its model families (``models.py``), derived features
(``features.py``), the API's answer (``api.py``) and monitoring checks (``checks.py``). The
project names each as ``module:attribute`` (the syntax of an entry point), or gives the object;
``Project.parts`` imports them once, when a command first needs them, so that ``--help`` and
commands that train nothing do not pay for importing scikit-learn's estimators.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .core.errors import ProjectError

if TYPE_CHECKING:
    from .monitoring.checks import Check
    from .serving.contract import Answer
    from .training.derived import DerivedFeatures
    from .training.families import Family

Serving = Literal["fastapi", "flask", "none"]
Engine = Literal["local", "dask", "spark"]
Tracking = Literal["local", "mlflow"]


class PartError(ProjectError, TypeError):
    """A part the project names cannot be imported, or is not what it should be."""


def resolve(reference: str) -> Any:
    """The object ``module:attribute`` names."""
    module, colon, attribute = reference.partition(":")
    if not colon or not module or not attribute:
        raise PartError(f"{reference!r} is not a reference of the form module:attribute")
    try:
        found: Any = importlib.import_module(module)
        for name in attribute.split("."):
            found = getattr(found, name)
    except (ImportError, AttributeError) as error:
        raise PartError(f"cannot load {reference}: {type(error).__name__}: {error}") from None
    return found


@dataclass(frozen=True)
class Parts:
    """The project's parts, loaded."""

    families: Mapping[str, Family]
    features: DerivedFeatures
    answer: type[Answer] | None
    checks: tuple[Check, ...]

    @property
    def trusted(self) -> tuple[str, ...]:
        """The types and functions beyond the runtime's own that this project's model files
        may name: each family's estimator class and its reviewed types, the derived features."""
        names = [name for f in self.families.values() for name in (f.type_name, *f.trusted)]
        return (*names, *self.features.trusted)


@dataclass(frozen=True)
class Project:
    """A generated project: its import name, its default data file, its options, and its parts
    (each an object or a ``module:attribute`` reference)."""

    name: str
    data: Path
    models: Mapping[str, Family] | str
    features: DerivedFeatures | str | None = None
    answer: type[Answer] | str | None = None
    checks: Sequence[Check] | str = ()
    serving: Serving = "none"
    engine: Engine = "local"
    tracking: Tracking = "local"
    #: Where a missing module comes from, for the CLI's one-line message (module: extra).
    extras: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def parts(self) -> Parts:
        """The parts, imported and checked (PartError naming the one that is wrong)."""
        from .serving.contract import Answer
        from .training.derived import DerivedFeatures
        from .training.families import LINEAR, Family

        families = _load(self.models)
        if not isinstance(families, Mapping) or not all(
            isinstance(f, Family) for f in families.values()
        ):
            raise PartError(f"models ({self.models}) must map family names to Family entries")
        if LINEAR not in families:
            raise PartError(
                f"models ({self.models}) must include {LINEAR!r}: the champion is compared with it"
            )
        features = DerivedFeatures() if self.features is None else _load(self.features)
        if not isinstance(features, DerivedFeatures):
            raise PartError(f"features ({self.features}) must be a DerivedFeatures registry")
        answer = None if self.answer is None else _load(self.answer)
        if answer is not None and not (isinstance(answer, type) and issubclass(answer, Answer)):
            raise PartError(f"answer ({self.answer}) must be a subclass of Answer")
        checks = tuple(_load(self.checks))
        if not all(callable(check) for check in checks):
            raise PartError(f"checks ({self.checks}) must be functions")
        return Parts(dict(families), features, answer, checks)


def _load(part: Any) -> Any:
    """A part given as a reference, imported; a part given as an object, itself."""
    return resolve(part) if isinstance(part, str) else part
