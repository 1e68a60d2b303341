"""The monitoring checks of this project's own, run by ``monitor`` after the drift checks.

A check is a function of the current data's tallies (``current``: each feature's and the
predictions' counts per reference bin or category), the champion's reference profile, the model
and the thresholds of ``configs/monitor.yaml``; it returns report rows made by ``result``. A row
whose status is alert makes ``monitor`` exit 3, like every other alert.
"""

from typing import Any

from prodml_runtime.config import MonitorConfig
from prodml_runtime.core.model import LoadedModel
from prodml_runtime.monitoring.checks import reference_shares, result
from prodml_runtime.monitoring.tally import Current

#: The largest share of predictions one class (or one bin of predicted values) may take.
MAX_PREDICTION_SHARE = 0.95


def collapsed_predictions(
    current: Current, reference: dict[str, Any], model: LoadedModel, config: MonitorConfig
) -> list[dict[str, Any]]:
    """Alert when nearly every prediction falls in one class (or one bin of predicted values)
    that took far fewer of the training data's predictions: a model answering the same whatever
    it is given."""
    predictions = current.prediction
    shares = predictions.bins / max(predictions.present, 1)
    top = int(shares.argmax())
    share, usual = float(shares[top]), float(reference_shares(reference["prediction"])[top])
    return [
        result(
            "collapsed_predictions",
            "prediction",
            share,
            MAX_PREDICTION_SHARE,
            enough=predictions.present >= config.min_rows,
            breached=share > MAX_PREDICTION_SHARE >= usual,
            rule=f"> {MAX_PREDICTION_SHARE:g} (training data: {usual:.2f})",
        )
    ]


CHECKS = [collapsed_predictions]
