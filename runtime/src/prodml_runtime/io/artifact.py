"""The model file: a fitted Pipeline in the skops format, loaded only from reviewed types.

A pickle (joblib) runs whatever its bytes say when it is loaded, so a checksum stored next to it
protects nothing against someone who can rewrite both. A skops file is a zip of JSON and numpy
arrays that names the type of every object in it: ``load`` lists those names first and refuses
the file, before building anything, if one is not in ``TRUSTED``, which skops already trusts
(scikit-learn estimators, numpy and builtin containers) plus the types below, each reviewed:

- the runtime's own feature functions (``coerce.coerce_types`` and ``coerced_names``,
  ``dates.date_parts`` and ``part_names``), which a ``FunctionTransformer`` refers to by name,
  and its ``derived.Derive`` step;
- ``numpy.dtype``, a data type description;
- ``sklearn.tree._tree.Tree`` and ``TreePredictor``: the node arrays of fitted trees (random
  forest, histogram gradient boosting), restored as data;
- ``f_classif``, ``f_regression`` and ``chi2``: the score functions ``SelectKBest`` refers to;
  they are looked up by name at load time, not called.

and, given by the project (``Parts.trusted``), its model families' estimator classes, the types
a family lists as reviewed, and its derived features' functions. A model whose pipeline uses
any other type is refused with its name: review it, then list it in its family's ``trusted``
(``models.py``).

skops names arrays after ``id()`` and stamps zip entries with the time, so two saves of the same
model differ; ``dumps`` renumbers them and fixes the stamps, so the same model always gives the
same bytes (and the same sha256).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any

import skops.io as sio
from sklearn.pipeline import Pipeline

from ..core.coerce import coerce_types, coerced_names
from ..core.dates import date_parts, part_names
from ..training.derived import Derive

MODEL_FILE = "model.skops"

_SKLEARN_TYPES = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.feature_selection._univariate_selection.f_classif",
    "sklearn.feature_selection._univariate_selection.f_regression",
    "sklearn.feature_selection._univariate_selection.chi2",
)
TRUSTED: tuple[str, ...] = (
    *(
        f"{f.__module__}.{f.__qualname__}"
        for f in (coerce_types, coerced_names, date_parts, part_names, Derive)
    ),
    *_SKLEARN_TYPES,
)
_SCHEMA = "schema.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)


class UntrustedArtifact(ValueError):
    """The file names types outside ``TRUSTED`` (or is not a skops file at all)."""


def _renumber(node: Any, ids: dict[int, int], files: dict[str, str], names: set[str]) -> Any:
    """``node`` with skops' object ids and array file names numbered in order of appearance."""
    if isinstance(node, list):
        return [_renumber(item, ids, files, names) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "__id__" and isinstance(value, int) and not isinstance(value, bool):
            value = ids.setdefault(value, len(ids))
        elif key == "file" and isinstance(value, str) and value in names:
            suffix = value[value.rfind(".") :] if "." in value else ""
            value = files.setdefault(value, f"{len(files)}{suffix}")
        else:
            value = _renumber(value, ids, files, names)
        out[key] = value
    return out


def dumps(pipeline: Pipeline) -> bytes:
    """The skops bytes of ``pipeline``: the same model always gives the same bytes."""
    raw = zipfile.ZipFile(io.BytesIO(sio.dumps(pipeline)))
    names = set(raw.namelist())
    files: dict[str, str] = {}
    schema = _renumber(json.loads(raw.read(_SCHEMA)), {}, files, names)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as out:
        entries = [(_SCHEMA, json.dumps(schema, indent=1).encode())]
        entries += sorted((new, raw.read(old)) for old, new in files.items())
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            out.writestr(info, data)
    return buffer.getvalue()


def untrusted_types(data: bytes, trusted: Sequence[str] = ()) -> list[str]:
    """The types ``data`` names that are neither in ``TRUSTED`` nor in ``trusted`` (nothing in
    it is built)."""
    try:
        named = sio.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise UntrustedArtifact(f"not a skops model file ({error})") from None
    return sorted(set(named) - {*TRUSTED, *trusted})


def loads(data: bytes, trusted: Sequence[str] = ()) -> Pipeline:
    """The pipeline in ``data``; UntrustedArtifact, before anything is built, if it names a type
    outside ``TRUSTED`` and the project's ``trusted``, or is not a fitted Pipeline."""
    foreign = untrusted_types(data, trusted)
    if foreign:
        raise UntrustedArtifact(
            f"it names types that are not on the reviewed list: {', '.join(foreign)} (a "
            "type your model family's fitted model holds: review it, then list it in the "
            "family's trusted, models.py)"
        )
    pipeline = sio.loads(data, trusted=[*TRUSTED, *trusted])
    if not isinstance(pipeline, Pipeline):
        raise UntrustedArtifact(f"it holds a {type(pipeline).__name__}, not a Pipeline")
    return pipeline
