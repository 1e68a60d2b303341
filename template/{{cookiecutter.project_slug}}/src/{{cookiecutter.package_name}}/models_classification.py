"""The model families training tunes, and how: one entry each.

Each family is an unfitted estimator (training clones it and seeds its ``random_state``) and its
search: ``grid(...)`` tries every combination of the listed values; ``randomized(n_iter, ...)``
draws ``n_iter`` settings from lists or ranges (``uniform``, ``loguniform``, ``randint``).
Parameter names are the estimator's, or pipeline paths such as ``features__select__k``.
A dummy baseline is always trained, and ``linear`` is required: the champion is compared with
both. Another library's model is one more entry plus its dependency in ``pyproject.toml``,
naming in ``trusted`` the types its fitted model holds besides the estimator itself, e.g.::

    "lightgbm": Family(
        LGBMClassifier(n_jobs=1, verbose=-1),
        randomized(6, learning_rate=loguniform(0.03, 0.2), num_leaves=[15, 31]),
        trusted=("lightgbm.basic.Booster", "collections.OrderedDict"),
    ),
"""

from prodml_runtime.training.families import Family, grid, loguniform, randomized
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression

MODELS = {
    "linear": Family(LogisticRegression(max_iter=2000), grid(C=[0.1, 1.0, 10.0])),
    "hist_gradient_boosting": Family(
        HistGradientBoostingClassifier(early_stopping=False),
        randomized(
            6,
            learning_rate=loguniform(0.03, 0.2),
            max_iter=[100, 200],
            max_leaf_nodes=[15, 31],
            l2_regularization=[0.0, 1.0],
        ),
    ),
    "random_forest": Family(
        RandomForestClassifier(n_jobs=1),
        randomized(
            4,
            n_estimators=[150],
            max_depth=[8, 16],
            min_samples_leaf=[1, 5],
            max_features=["sqrt", 0.5],
        ),
    ),
}
