"""Tree ensembles for the fast path: every tree of a fitted histogram gradient boosting or
random forest model as flat node arrays, walked for all rows and trees at once, with the same
floating-point operations in the same order as scikit-learn (so the results are equal to the
bit). It reads private attributes (``_predictors``, ``_baseline_prediction``, ``_loss``,
``estimators_``' ``tree_``): ``fast_path.FastModel`` falls back to the fitted estimator on any
error or difference.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

#: Up to this many rows, trees are walked through a per-row next-node table (measured on the
#: default model: 1 row 15 us, 4 rows 39 us, 16 rows 136 us, against 14, 92 and 176 us level by
#: level through the children arrays; at 64 rows the table is the slower by 5x).
SMALL_BATCH = 16


class Unsupported(ValueError):
    """A fitted step the fast path cannot evaluate from its parameters."""


class _Trees:
    """Every tree of an ensemble as flat node arrays, walked for all rows and trees at once.

    Leaves point to themselves, so walking ``depth`` steps from the roots ends on each tree's leaf
    whatever its own depth. A missing value goes where the tree sends missing values.
    """

    def __init__(self, trees: list[dict[str, np.ndarray]], float32: bool) -> None:
        sizes = [len(t["feature"]) for t in trees]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        self.roots = offsets
        self.feature = np.concatenate([t["feature"] for t in trees]).astype(np.intp)
        self.threshold = np.concatenate([t["threshold"] for t in trees]).astype(np.float64)
        self.missing_left = np.concatenate([t["missing_left"] for t in trees]).astype(bool)
        left, right = [], []
        for tree, offset in zip(trees, offsets, strict=True):
            leaf = tree["leaf"]
            own = np.arange(len(leaf), dtype=np.intp)
            left.append(np.where(leaf, own, tree["left"]) + offset)
            right.append(np.where(leaf, own, tree["right"]) + offset)
        self.left, self.right = np.concatenate(left), np.concatenate(right)
        # children[node, 1] is where a value <= threshold goes, children[node, 0] the others.
        self.children = np.stack([self.right, self.left], axis=1)
        self.value = np.concatenate([t["value"] for t in trees])
        self.depth = max(int(t["depth"]) for t in trees)
        self.float32 = float32

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """Leaf node of each (row, tree).

        Every node's test is evaluated at once (``goes_left``: rows x nodes), then each tree is
        walked ``depth`` steps. Up to ``SMALL_BATCH`` rows (the API's requests), each row's next
        node from every node is computed first, so that a step is a single gather; larger
        batches step through the children arrays (less memory per row).
        """
        if self.float32:  # sklearn's trees compare float32 inputs with float64 thresholds
            x = x.astype(np.float32)
        values = x.take(self.feature, axis=1)
        goes_left = values <= self.threshold
        missing = np.isnan(values)
        if missing.any():
            goes_left = np.where(missing, self.missing_left, goes_left)
        rows, trees, nodes = x.shape[0], len(self.roots), len(self.feature)
        if rows <= SMALL_BATCH:  # in the flattened (rows, nodes) arrays row r starts at r * nodes
            start = np.arange(rows, dtype=np.intp)[:, None] * nodes
            step = (np.where(goes_left, self.left, self.right) + start).ravel()
            node = self.roots + start
            for _ in range(self.depth):
                node = step[node]
            return node - start
        left = goes_left.view(np.int8).ravel()
        children = self.children.ravel()  # [2 * node + 1]: the child a value <= threshold goes to
        node = np.tile(self.roots, rows)
        offset = np.repeat(np.arange(rows) * nodes, trees)  # row r's tests start at r * nodes
        for _ in range(self.depth):
            node = children[2 * node + left[offset + node]]
        return node.reshape(rows, trees)


def _sequential_sum(start: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """``start + terms[:, 0] + terms[:, 1] + ...`` added left to right (as sklearn's loops do)."""
    stacked = np.concatenate([start[:, None], terms], axis=1)
    return np.add.accumulate(stacked, axis=1)[:, -1]


def _hist_gradient_boosting(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    if model.is_categorical_ is not None and np.any(model.is_categorical_):
        raise Unsupported("native categorical splits")
    per_iteration = model.n_trees_per_iteration_
    trees = []
    for predictors in model._predictors:
        for predictor in predictors:
            nodes = predictor.nodes
            if np.any(nodes["is_categorical"]):
                raise Unsupported("native categorical splits")
            trees.append(
                {
                    "feature": nodes["feature_idx"],
                    "threshold": nodes["num_threshold"],
                    "missing_left": nodes["missing_go_to_left"],
                    "left": nodes["left"].astype(np.intp),
                    "right": nodes["right"].astype(np.intp),
                    "leaf": nodes["is_leaf"].astype(bool),
                    "value": nodes["value"].astype(np.float64),
                    "depth": nodes["depth"].max(),
                }
            )
    walk = _Trees(trees, float32=False)
    baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
    loss = model._loss
    classify = isinstance(model, HistGradientBoostingClassifier)

    def score(x: np.ndarray) -> np.ndarray:
        values = walk.value[walk.leaves(x)]  # (rows, iterations * per_iteration)
        values = values.reshape(x.shape[0], -1, per_iteration)
        raw = np.empty((x.shape[0], per_iteration), dtype=np.float64, order="F")
        for k in range(per_iteration):
            raw[:, k] = _sequential_sum(np.full(x.shape[0], baseline[k]), values[:, :, k])
        scores: np.ndarray = loss.predict_proba(raw) if classify else loss.link.inverse(raw.ravel())
        return scores

    return score


def _random_forest(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    if model.n_outputs_ != 1:
        raise Unsupported("multi-output forest")
    classify = isinstance(model, RandomForestClassifier)
    width = model.n_classes_ if classify else 1
    trees = []
    for estimator in model.estimators_:
        tree = estimator.tree_
        leaf = tree.children_left == -1
        missing = getattr(tree, "missing_go_to_left", np.zeros(tree.node_count, dtype=np.uint8))
        trees.append(
            {
                "feature": np.where(leaf, 0, tree.feature),
                "threshold": np.where(leaf, 0.0, tree.threshold),
                "missing_left": missing,
                "left": tree.children_left.astype(np.intp),
                "right": tree.children_right.astype(np.intp),
                "leaf": leaf,
                "value": tree.value[:, 0, :width].astype(np.float64),
                "depth": tree.max_depth,
            }
        )
    walk = _Trees(trees, float32=True)
    count = len(trees)

    def score(x: np.ndarray) -> np.ndarray:
        values = walk.value[walk.leaves(x)]  # (rows, trees, width)
        total = np.empty((x.shape[0], width), dtype=np.float64)
        for k in range(width):
            total[:, k] = _sequential_sum(np.zeros(x.shape[0]), values[:, :, k])
        total /= count
        return total if classify else total[:, 0]

    return score


def compiled_estimator(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    if isinstance(model, (HistGradientBoostingClassifier, HistGradientBoostingRegressor)):
        return _hist_gradient_boosting(model)
    if isinstance(model, (RandomForestClassifier, RandomForestRegressor)):
        return _random_forest(model)
    raise Unsupported(type(model).__name__)
