"""``bench``: a project's benchmarks, run from its root (``make bench``).

``python -m <package> bench train`` times the ``train`` job by stage (``bench_train``),
``bench api`` the API under concurrent load against a bare echo endpoint (``bench_api``, when
the project serves), ``bench batch`` the batch scoring of ``predict`` (``bench_batch``), and
``bench engine`` the cluster engine against the local one (``bench_engine``, for a dask or
spark project). They print what they measure and assert no time. Heavy libraries are imported
when a benchmark runs.
"""

from __future__ import annotations

import click

from ..project import Project
from . import bench_api, bench_batch, bench_engine, bench_train


def bench_group(project: Project) -> click.Group:
    """The ``bench`` group of ``project``'s command line."""
    group = click.Group("bench", help="Benchmarks: they print their figures and assert nothing.")
    group.add_command(bench_train.train)
    if project.serving != "none":
        group.add_command(bench_api.api)
    group.add_command(bench_batch.batch)
    if project.engine != "local":
        group.add_command(bench_engine.engine)
    return group
