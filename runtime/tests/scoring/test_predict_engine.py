"""The cluster engines, Dask on a LocalCluster of 2 processes and Spark in local mode on 2 cores:
the same predictions, rejects and log rows as the local engine, and the same monitoring report
from the workers' tallies.

Each test runs on both engines. Scoring runs on the binary demo (the engines' part of it does
not depend on the problem type); monitoring on every type, since the prediction's tally does.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from prodml_runtime.cli import command_line
from prodml_runtime.config import load_monitor_config
from prodml_runtime.core.model import LoadedModel
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry
from prodml_runtime.io.parquet_log import ParquetLog
from prodml_runtime.io.prediction_log import PredictionLog
from prodml_runtime.io.tables import TableError, read_table
from prodml_runtime.jobs import monitor_job
from prodml_runtime.project import Project
from prodml_runtime.scoring.dataset import Engine, predict_dataset
from prodml_runtime.scoring.predict import batch_request_id, predict_file

from tests.demo import BadCell, demo_project
from tests.shipped import MONITOR_CONFIG

FILES = 3
#: What two runs of the same rows log alike (the time and the measured latency differ).
LINEAGE = ["item", "model_version", "source", "inputs", "outputs"]
#: The scoring tests' problem type (the monitoring test runs on each).
BINARY = pytest.mark.parametrize("problem", ["binary"], indirect=True)
#: Each engine's option for the cluster's address.
ADDRESS = {"dask": "--scheduler", "spark": "--master"}
#: Seconds a run with a killed worker may take before it counts as hung: a new Spark worker
#: imports the project again, which took over 60 s on a loaded machine (load average 10 on 2 cores).
HANG = 300


@dataclass(frozen=True)
class Cluster:
    """An engine, the CLI arguments that reach it, and its workers' process ids."""

    name: str
    engine: Engine
    args: list[str]
    worker_pids: Callable[[], list[int]]


def _processes() -> dict[int, tuple[int, bytes]]:
    """Every process: id -> (parent id, command line)."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            command = (entry / "cmdline").read_bytes()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        found[int(entry.name)] = (parent, command)
    return found


def _python_workers() -> list[int]:
    """The Python workers of this process's local-mode Spark: those its pyspark daemon forked
    (not the workers of another test process's Spark)."""
    processes = _processes()

    def under_this_process(pid: int) -> bool:
        while pid in processes and pid > 1:
            pid = processes[pid][0]
            if pid == os.getpid():
                return True
        return False

    daemons = {
        pid
        for pid, (_, command) in processes.items()
        if b"pyspark.daemon" in command and under_this_process(pid)
    }
    return sorted(pid for pid, (parent, _) in processes.items() if parent in daemons)


def _start(name: str, stack: ExitStack) -> Cluster:
    """A cluster of ``name``, closed with ``stack``."""
    connect = importlib.import_module(f"prodml_runtime.scoring.predict_{name}").connect
    if name == "dask":
        from distributed import LocalCluster

        local = stack.enter_context(
            # Its HTTP server on a free port: another cluster on the machine may hold 8787.
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
        )
        engine = stack.enter_context(connect(local.scheduler_address))
        return Cluster(
            name,
            engine,
            ["--scheduler", local.scheduler_address],
            lambda: sorted(engine.client.run(os.getpid).values()),
        )
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs a Java runtime (JDK 17+): no java on PATH and no JAVA_HOME")
    # One local-mode session (the CLI's commands reuse the running one).
    return Cluster(name, stack.enter_context(connect(None)), [], _python_workers)


@pytest.fixture(scope="module")
def clusters() -> Iterator[Callable[[str], Cluster]]:
    """Each engine's cluster, started when a test first needs it and kept for the module."""
    started: dict[str, Cluster] = {}
    with ExitStack() as stack:
        yield lambda name: started.get(name) or started.setdefault(name, _start(name, stack))


@pytest.fixture(params=["dask", "spark"])
def cluster(request: pytest.FixtureRequest, clusters: Callable[[str], Cluster]) -> Cluster:
    """The engine the test runs on."""
    return clusters(str(request.param))


def _scoring_input(sample: pd.DataFrame, schema: Schema, cells: list[BadCell]) -> pd.DataFrame:
    """300 rows to score (no target); rows 3, 110 and 211 (one per file) break the schema."""
    frame = sample.head(300).drop(columns=schema.target).reset_index(drop=True)
    for row, cell in zip((3, 110, 211), cells * 3, strict=False):
        cell.put(frame, [row])
    return frame


def _split(frame: pd.DataFrame, folder: Path, suffix: str) -> list[Path]:
    """``frame`` as FILES files in ``folder`` (in row order when sorted by name)."""
    folder.mkdir()
    paths = []
    size = -(-len(frame) // FILES)
    for index in range(FILES):
        part = frame.iloc[index * size : (index + 1) * size]
        path = folder / f"part-{index}{suffix}"
        if suffix == ".csv":
            part.to_csv(path, index=False)
        else:
            part.to_parquet(path, index=False, row_group_size=40)
        paths.append(path)
    return paths


def _as_text(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Parquet columns are typed: a broken column goes as text, as a CSV would hold it."""
    for name in names:
        frame[name] = [None if pd.isna(v) else str(v) for v in frame[name]]
    return frame


def _logged(log: PredictionLog | ParquetLog) -> pd.DataFrame:
    return log.read().sort_values("item", ignore_index=True)


def _assert_same_as_local(
    model: LoadedModel, local_input: Path, source: str, tmp_path: Path, cluster: Cluster
) -> None:
    local_log, log = PredictionLog(tmp_path / "log.db"), ParquetLog(tmp_path / "log")
    local = predict_file(model, local_input, tmp_path / "local.parquet", log=local_log)
    summary = predict_dataset(
        model, source, tmp_path / "scored", cluster.engine, partition_rows=50, log=log
    )
    assert (summary.rows, summary.scored, summary.rejected, summary.logged) == (
        local.rows,
        local.scored,
        local.rejected,
        local.logged,
    )
    pd.testing.assert_frame_equal(_logged(log)[LINEAGE], _logged(local_log)[LINEAGE])
    expected = pd.read_parquet(tmp_path / "local.parquet")
    written = pd.read_parquet(tmp_path / "scored").sort_values("row", ignore_index=True)
    pd.testing.assert_frame_equal(written, expected)
    expected_rejects = read_table(local.rejects)
    rejects = pd.read_parquet(tmp_path / "scored.rejects").sort_values("row", ignore_index=True)
    assert rejects["row"].tolist() == expected_rejects["row"].tolist() == [3, 110, 211]
    assert rejects["reason"].tolist() == expected_rejects["reason"].tolist()


@BINARY
def test_a_csv_glob_scores_as_the_local_engine_scores_the_whole_file(
    loaded: LoadedModel,
    schema: Schema,
    sample: pd.DataFrame,
    invalid_cells: list[BadCell],
    tmp_path: Path,
    cluster: Cluster,
) -> None:
    frame = _scoring_input(sample, schema, invalid_cells)
    _split(frame, tmp_path / "in", ".csv")
    frame.to_csv(tmp_path / "all.csv", index=False)
    _assert_same_as_local(
        loaded, tmp_path / "all.csv", str(tmp_path / "in" / "*.csv"), tmp_path, cluster
    )


@BINARY
def test_a_european_export_scores_on_the_cluster_as_locally(
    loaded: LoadedModel,
    schema: Schema,
    sample: pd.DataFrame,
    invalid_cells: list[BadCell],
    tmp_path: Path,
    cluster: Cluster,
) -> None:
    """Files written with ';' between cells, a decimal comma and Windows' code page, as the
    schema records them (``separator``, ``decimal``, ``encoding``), are read alike by every part
    and every engine."""
    written = {"separator": ";", "decimal": ",", "encoding": "cp1252"}
    european = dataclasses.replace(loaded, schema=loaded.schema.model_copy(update=written))
    frame = _scoring_input(sample, schema, invalid_cells)
    assert schema.id is not None
    frame[schema.id] = [f"Zürich café {n}" for n in range(len(frame))]  # the outputs carry it
    written = {"index": False, **european.schema.writing}
    for number, rows in enumerate((frame.iloc[:150], frame.iloc[150:])):
        (tmp_path / "in").mkdir(exist_ok=True)
        rows.to_csv(tmp_path / "in" / f"part-{number}.csv", **written)
    frame.to_csv(tmp_path / "all.csv", **written)
    _assert_same_as_local(
        european, tmp_path / "all.csv", str(tmp_path / "in" / "*.csv"), tmp_path, cluster
    )
    plain = tmp_path / "plain"
    plain.mkdir()
    frame.to_csv(plain / "all.csv", index=False)
    predict_file(loaded, plain / "all.csv", plain / "local.parquet")
    pd.testing.assert_frame_equal(
        pd.read_parquet(plain / "local.parquet"), pd.read_parquet(tmp_path / "local.parquet")
    )


@BINARY
def test_a_parquet_dataset_scores_as_the_local_engine_scores_the_whole_file(
    loaded: LoadedModel,
    schema: Schema,
    sample: pd.DataFrame,
    invalid_cells: list[BadCell],
    tmp_path: Path,
    cluster: Cluster,
) -> None:
    frame = _as_text(
        _scoring_input(sample, schema, invalid_cells), [c.column for c in invalid_cells]
    )
    _split(frame, tmp_path / "in", ".parquet")
    frame.to_parquet(tmp_path / "all.parquet", index=False, row_group_size=40)
    _assert_same_as_local(loaded, tmp_path / "all.parquet", str(tmp_path / "in"), tmp_path, cluster)


@BINARY
def test_a_file_missing_a_column_stops_the_run_before_anything_is_written(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path, cluster: Cluster
) -> None:
    paths = _split(sample.head(90).drop(columns=schema.target), tmp_path / "in", ".csv")
    dropped = schema.feature_names[0]
    read_table(paths[1]).drop(columns=dropped).to_csv(paths[1], index=False)
    with pytest.raises(TableError, match=rf"part-1\.csv is missing column\(s\): {dropped}"):
        predict_dataset(
            loaded, str(tmp_path / "in" / "*.csv"), tmp_path / "scored", engine=cluster.engine
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"], "nothing written"


@BINARY
def test_a_rerun_writes_the_same_parts_byte_for_byte(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path, cluster: Cluster
) -> None:
    _split(sample.head(120).drop(columns=schema.target), tmp_path / "in", ".parquet")

    log = ParquetLog(tmp_path / "log")

    def parts() -> tuple[int, dict[str, bytes]]:
        summary = predict_dataset(
            loaded, str(tmp_path / "in"), tmp_path / "out", engine=cluster.engine,
            partition_rows=40, log=log,
        )  # fmt: skip
        folders = (tmp_path / "out", tmp_path / "out.rejects")
        files = [p for f in folders for p in f.iterdir()] + log.parts()
        return summary.logged, {str(p.relative_to(tmp_path)): p.read_bytes() for p in files}

    logged, first = parts()
    assert len([name for name in first if name.startswith("out/")]) == FILES
    assert logged == log.count() == 120
    assert parts() == (0, first), "the same parts, and the run is not logged twice"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "log", "out", "out.rejects"]


@BINARY
def test_cli_predict_and_monitor_on_the_engine(
    model_dir: Path,
    schema: Schema,
    sample: pd.DataFrame,
    sample_path: Path,
    tmp_path: Path,
    cluster: Cluster,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    main = command_line(demo_project(schema, sample_path, engine=cluster.name))
    monkeypatch.chdir(tmp_path)
    _split(sample.head(60).drop(columns=schema.target), tmp_path / "in", ".csv")
    args = ["predict", "--model-dir", str(model_dir), "--input", "in/*.csv", "--output", "out"]
    engine = ["--engine", cluster.name]
    result = CliRunner().invoke(main, [*args, *engine, *cluster.args])
    assert result.exit_code == 0, result.output
    assert "scored 60 of 60 rows" in result.output
    assert "logged 60 new predictions to logs/predictions/" in result.output
    assert len(pd.read_parquet(tmp_path / "out")) == 60
    address = ADDRESS[cluster.name]
    result = CliRunner().invoke(main, [*args, address, "somewhere"])
    assert result.exit_code == 2 and f"{address} needs {' '.join(engine)}" in result.output
    monitor = ["monitor", "--model-dir", str(model_dir), *engine]
    result = CliRunner().invoke(main, [*monitor, "--input", "in/part-0.csv"])
    assert result.exit_code == 2 and "not with --input" in result.output
    result = CliRunner().invoke(main, [*monitor, "--log", "nowhere", *cluster.args])
    assert result.exit_code == 1 and "no Parquet prediction log at nowhere" in result.output
    if cluster.name == "dask":
        result = CliRunner().invoke(main, [*args, *engine, "--scheduler", "tcp://127.0.0.1:9"])
        assert result.exit_code == 1 and "cannot reach the Dask scheduler" in result.output
    else:
        monkeypatch.setenv("PATH", str(tmp_path))  # no java
        monkeypatch.delenv("JAVA_HOME", raising=False)
        result = CliRunner().invoke(main, [*args, *engine])
        assert result.exit_code == 1 and "Spark needs a Java runtime" in result.output


@BINARY
def test_a_worker_killed_mid_run_leaves_no_duplicates_and_no_gaps(
    loaded: LoadedModel, schema: Schema, sample: pd.DataFrame, tmp_path: Path, cluster: Cluster
) -> None:
    frame = pd.concat([sample.drop(columns=schema.target)] * 2, ignore_index=True)
    frame.to_parquet(tmp_path / "in.parquet", index=False, row_group_size=20)
    log = ParquetLog(tmp_path / "log")
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(
            predict_dataset, loaded, str(tmp_path / "in.parquet"), tmp_path / "out",
            engine=cluster.engine, partition_rows=20, log=log,
        )  # fmt: skip
        while not any(tmp_path.glob(".out.*/part-*")) and not run.done():
            time.sleep(0.01)
        assert not run.done(), "the run ended before a worker could be killed"
        os.kill(cluster.worker_pids()[0], signal.SIGKILL)
        summary = run.result(timeout=HANG)
    written = pd.read_parquet(tmp_path / "out")
    assert summary.scored == len(written) == len(frame)
    assert sorted(written["row"]) == list(range(len(frame))), "every row once"
    logged = log.read()
    assert sorted(logged["item"]) == list(range(len(frame))), "every row logged once"
    assert set(logged["request_id"]) == {batch_request_id(tmp_path / "in.parquet", loaded.version)}
    assert not list(tmp_path.glob("log/*/.*")), "no staging left in the log"
    expected = ["in.parquet", "log", "out", "out.rejects"]
    assert sorted(p.name for p in tmp_path.iterdir()) == expected


def test_monitoring_the_parquet_log_on_the_cluster_reports_what_the_sqlite_log_gives(
    monitored: Path,
    schema: Schema,
    sample: pd.DataFrame,
    invalid_cells: list[BadCell],
    project: Project,
    tmp_path: Path,
    cluster: Cluster,
) -> None:
    model, config = registry.load(monitored), load_monitor_config(MONITOR_CONFIG)
    frame = _scoring_input(sample, schema, invalid_cells)
    frame.to_csv(tmp_path / "in.csv", index=False)
    predict_file(
        model, tmp_path / "in.csv", tmp_path / "local.csv", log=PredictionLog(tmp_path / "log.db")
    )
    predict_dataset(
        model, str(tmp_path / "in.csv"), tmp_path / "out", engine=cluster.engine,
        partition_rows=40, log=ParquetLog(tmp_path / "log"),
    )  # fmt: skip
    local = monitor_job(monitored, tmp_path / "m1", config, project, log_path=tmp_path / "log.db")
    in_process = monitor_job(monitored, tmp_path / "m2", config, project, log_path=tmp_path / "log")
    merged = monitor_job(
        monitored, tmp_path / "m3", config, project, log_path=tmp_path / "log",
        engine=cluster.engine,
    )  # fmt: skip
    for report in (in_process, merged):
        assert (report["rows"], report["violations"]) == (local["rows"], local["violations"])
        assert [c["status"] for c in report["checks"]] == [c["status"] for c in local["checks"]]
        for name, expected in [*local["features"].items(), ("prediction", local["prediction"])]:
            found = report["prediction"] if name == "prediction" else report["features"][name]
            assert found["rows"] == expected["rows"], name  # counts: exactly
            assert found["current_shares"] == pytest.approx(expected["current_shares"])
            assert found["psi"] == pytest.approx(expected["psi"], abs=1e-12)
            for test in ("ks", "chi2"):
                if test in expected:
                    assert found[test] == pytest.approx(expected[test], rel=1e-9, abs=1e-12)
