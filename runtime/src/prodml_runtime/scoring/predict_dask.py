"""The Dask engine of ``dataset``: partitions read by ``dask.dataframe.from_map`` and scored by
``map_partitions``, the model scattered to every worker once. Without a scheduler address, a
LocalCluster of this machine's processes."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow.parquet as pq

from ..core.model import LoadedModel
from ..io.tables import file_format
from .dataset import COUNTS, EngineError, Piece, Task, read_piece, score_partition

#: Without --scheduler: a cluster of this machine's processes, one thread each.
LOCAL_WORKERS = 2
T = TypeVar("T")


@dataclass(frozen=True)
class DaskEngine:
    """A Dask cluster, through its ``client``."""

    client: Any

    def map(self, function: Callable[[Any, Any], T], items: Sequence[Any], shared: Any) -> list[T]:
        """``function(item, shared)`` of every item on the workers (``shared`` scattered once)."""
        shipped = _scatter(self.client, shared)
        futures = self.client.map(function, list(items), [shipped] * len(items))
        return list(self.client.gather(futures))

    def score(self, pieces: list[Piece], model: LoadedModel, task: Task) -> tuple[int, int]:
        """Every piece read (``from_map``) and scored (``map_partitions``) on the workers."""
        import dask
        import dask.dataframe as dd

        shipped = _scatter(self.client, model)
        meta = _input_meta(Path(pieces[0].path), list(task.usecols))
        # Partitions as ``read_chunks`` gives them: Dask would turn text columns into Arrow strings.
        with dask.config.set({"dataframe.convert-string": False}):
            frame = dd.from_map(
                read_piece, pieces, usecols=task.usecols, reading=task.reading, meta=meta,
                enforce_metadata=False,
            )  # fmt: skip
            counts = frame.map_partitions(
                score_partition, shipped, task, meta=COUNTS, enforce_metadata=False
            ).compute()
        return int(counts["rows"].sum()), int(counts["scored"].sum())


def _scatter(client: Any, value: Any) -> Any:
    """``value`` on every worker, under a key of its own: a key hashed from the content (Dask's
    default) is the same for the same model in the next run, which then raced the release of
    the last run's copy and failed with "lost dependencies" (2 runs in 15, back to back)."""
    return client.scatter(value, broadcast=True, hash=False)


def _input_meta(path: Path, wanted: list[str]) -> pd.DataFrame:
    """An empty frame typed as the partitions of files like ``path`` will be (``from_map``'s
    ``meta``)."""
    empty: pd.DataFrame
    if file_format(path) == "csv":
        empty = pd.DataFrame({name: pd.Series(dtype=object) for name in wanted})
    else:
        empty = pq.read_schema(path).empty_table().select(wanted).to_pandas()
    return empty


@contextmanager
def connect(scheduler: str | None) -> Iterator[DaskEngine]:
    """The cluster at ``scheduler``, or a LocalCluster of ``LOCAL_WORKERS`` processes on this
    machine (closed afterwards)."""
    import dask.dataframe  # noqa: F401  (a missing extra is named before any work)
    from distributed import Client, LocalCluster

    if scheduler is None:
        with (
            LocalCluster(
                n_workers=LOCAL_WORKERS,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield DaskEngine(client)
        return
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, ValueError) as error:
        raise EngineError(
            f"cannot reach the Dask scheduler at {scheduler}: {error}; start one "
            "(`dask scheduler`, then `dask worker ADDRESS` on each machine) or leave out "
            "--scheduler to use a LocalCluster"
        ) from None
    with client:
        yield DaskEngine(client)
