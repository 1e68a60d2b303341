"""The promotion gate (pure): may a challenger replace the champion, judged on its metadata?

A model must beat the dummy baseline on the primary test metric by at least ``min_improvement``
(and by more than nothing) and, unless forced, score at least as well as the champion (ties are
promoted). ``promotion.promote`` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ProjectError


class PromotionRefused(ProjectError, RuntimeError):
    """The challenger failed the gate: not better than the baseline, or worse than the champion."""


@dataclass(frozen=True)
class Evidence:
    """What the gate compares, read from a version's metadata."""

    metric: str
    higher_is_better: bool
    score: float
    baseline: float
    min_improvement: float

    @property
    def gain(self) -> float:
        """How much the model beats the baseline (positive = better)."""
        delta = self.score - self.baseline
        return delta if self.higher_is_better else -delta


def lower_is_better(metric: str) -> bool:
    """Loss and error metrics (rmse, mae, log_loss, ...) are better when lower."""
    return any(word in metric for word in ("loss", "error", "rmse", "mae", "mse"))


def evidence(metadata: dict[str, Any]) -> Evidence:
    """The gate's inputs: primary test metric of the model and of the baseline, and the margin."""
    version = metadata.get("version")
    try:
        metrics = metadata["metrics"]
        metric = metrics["primary_metric"]
        test = metrics["test"]
        score, baseline = test[metrics["champion"]][metric], test["baseline"][metric]
        margin = metadata["params"]["config"]["min_improvement"]
    except (KeyError, TypeError) as error:
        raise PromotionRefused(
            f"model {version} has no gate evidence in its metadata (missing {error}): "
            "train it with the `train` command"
        ) from None
    higher = metrics.get("higher_is_better", not lower_is_better(metric))
    return Evidence(metric, bool(higher), float(score), float(baseline), float(margin))


def gate(candidate: dict[str, Any], incumbent: dict[str, Any] | None, force: bool = False) -> str:
    """Why ``candidate`` may replace ``incumbent`` as champion; PromotionRefused if it may not.

    It must beat the dummy baseline, by at least ``min_improvement``, on the primary test metric;
    and, unless ``force``, score at least as well as the champion (ties are promoted).
    """
    new = evidence(candidate)
    name = candidate["version"]
    if new.gain <= 0 or new.gain < new.min_improvement:
        raise PromotionRefused(
            f"{name} refused: test {new.metric} {new.score:.4f} beats the baseline "
            f"({new.baseline:.4f}) by {new.gain:.4f}; at least {new.min_improvement} "
            "(and more than 0) is required"
        )
    reason = f"beats the baseline by {new.gain:.4f} {new.metric}"
    if incumbent is None:
        return f"first champion; {reason}"
    if force:
        return f"forced by operator over {incumbent['version']}; {reason}"
    old = evidence(incumbent)
    if old.metric != new.metric:
        raise PromotionRefused(
            f"{name} refused: its primary metric {new.metric} differs from the champion's "
            f"{old.metric}; use --force to promote anyway"
        )
    sign = 1.0 if new.higher_is_better else -1.0
    if sign * (new.score - old.score) < 0:
        raise PromotionRefused(
            f"{name} refused: test {new.metric} {new.score:.4f} is worse than champion "
            f"{incumbent['version']} ({old.score:.4f}); use --force to promote anyway"
        )
    return f"test {new.metric} {new.score:.4f} vs champion {old.score:.4f}; {reason}"
