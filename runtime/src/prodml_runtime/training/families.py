"""Model families: an estimator and how training tunes it, as a project's ``models.py`` lists them.

A family is one entry: an unfitted scikit-learn-compatible estimator (a prototype: training
clones it and sets its ``random_state`` when it has one) and its search, ``grid(...)`` or
``randomized(n_iter, ...)`` over parameter values or ranges (``uniform``, ``loguniform``,
``randint``). Parameter names are the estimator's, or pipeline paths such as
``features__select__k``. The model file trusts each family's estimator class; a family whose
fitted model holds other types (a booster object, say) names them in ``trusted`` once they
are reviewed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from scipy.stats._distn_infrastructure import rv_frozen

#: The family every project must have: the evaluation reports the champion's lift over it.
LINEAR = "linear"
Scalar = int | float | str | bool | None


class Distribution(BaseModel):
    """A continuous or integer range for random search; exactly one of the keys is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    uniform: tuple[float, float] | None = None
    loguniform: tuple[float, float] | None = None
    randint: tuple[int, int] | None = Field(None, description="integers in [low, high)")

    @model_validator(mode="after")
    def _one_range(self) -> Distribution:
        ranges = [r for r in (self.uniform, self.loguniform, self.randint) if r is not None]
        if len(ranges) != 1:
            raise ValueError("a distribution sets exactly one of uniform, loguniform, randint")
        low, high = ranges[0]
        if not low < high or (self.loguniform is not None and low <= 0):
            raise ValueError(f"invalid range [{low}, {high}]")
        return self

    @property
    def ends(self) -> list[Any]:
        """The smallest and largest values it can give."""
        low, high = next(r for r in (self.uniform, self.loguniform, self.randint) if r)
        return [low, high - 1 if self.randint is not None else high]

    def frozen(self) -> rv_frozen:
        """The scipy distribution that RandomizedSearchCV samples from."""
        from scipy import stats

        if self.uniform is not None:
            return stats.uniform(self.uniform[0], self.uniform[1] - self.uniform[0])
        if self.loguniform is not None:
            return stats.loguniform(*self.loguniform)
        assert self.randint is not None  # _one_range: exactly one range is set
        return stats.randint(*self.randint)


def uniform(low: float, high: float) -> Distribution:
    return Distribution(uniform=(low, high))


def loguniform(low: float, high: float) -> Distribution:
    return Distribution(loguniform=(low, high))


def randint(low: int, high: int) -> Distribution:
    """Integers from ``low`` to ``high - 1``."""
    return Distribution(randint=(low, high))


Values = list[Scalar] | Distribution


@dataclass(frozen=True)
class Search:
    """How a family is tuned: every combination of ``space`` (grid), or ``n_iter`` draws."""

    kind: Literal["grid", "random"]
    space: Mapping[str, Values]
    n_iter: int = 10

    def __post_init__(self) -> None:
        if self.n_iter < 1:
            raise ValueError("a random search draws at least one setting (n_iter >= 1)")
        for name, values in self.space.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"search space {name!r} has no values")
            if not isinstance(values, (list, Distribution)):
                raise ValueError(f"search space {name!r}: a list of values or a distribution")
            if isinstance(values, Distribution) and self.kind == "grid":
                raise ValueError(f"grid search needs a list of values for {name!r}")

    def summary(self) -> dict[str, Any]:
        """The search as JSON (recorded with every model)."""
        space = {
            name: v.model_dump(exclude_none=True) if isinstance(v, Distribution) else v
            for name, v in self.space.items()
        }
        return {"search": self.kind, "n_iter": self.n_iter, "space": space}


def grid(**space: list[Scalar]) -> Search:
    """Try every combination of the listed values."""
    return Search("grid", space)


def randomized(n_iter: int, **space: Values) -> Search:
    """Try ``n_iter`` settings drawn from lists or ranges."""
    return Search("random", space, n_iter)


@dataclass(frozen=True)
class Family:
    """An estimator prototype, its search, and the types its fitted model holds beyond
    scikit-learn's own (reviewed, so the model file may name them)."""

    estimator: Any
    search: Search = field(default_factory=lambda: grid())
    trusted: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (hasattr(self.estimator, "fit") and hasattr(self.estimator, "get_params")):
            raise TypeError(f"{self.estimator!r} is not an estimator (it needs fit and get_params)")

    @property
    def classifies(self) -> bool:
        return hasattr(self.estimator, "predict_proba")

    @property
    def type_name(self) -> str:
        kind = type(self.estimator)
        return f"{kind.__module__}.{kind.__qualname__}"

    def build(self, seed: int) -> Any:
        """A fresh, unfitted copy of the estimator, seeded where it takes a seed."""
        from sklearn.base import clone

        estimator = clone(self.estimator)
        if "random_state" in estimator.get_params(deep=False):
            estimator.set_params(random_state=seed)
        return estimator

    def summary(self) -> dict[str, Any]:
        """The family as JSON (recorded with every model)."""
        return {"estimator": self.type_name, **self.search.summary()}
