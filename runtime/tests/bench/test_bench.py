"""The ``bench`` commands on tiny sizes: each runs and prints its figures (their values are the
machine's: none is asserted).

The benchmarks measure the runtime, whatever the problem type: one type (binary) runs them.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import click
import pytest
from click.testing import Result
from prodml_runtime.bench.bench_batch import listed
from prodml_runtime.bench.bench_train import missed_targets
from prodml_runtime.cli import command_line
from prodml_runtime.core.schema import Schema
from prodml_runtime.io import registry

from tests.bench.conftest import Bench
from tests.demo import demo_project

#: The tests running a benchmark run it on one problem type.
ONE_PROBLEM = pytest.mark.parametrize("problem", ["binary"], indirect=True)

NUMBER = r"[\d.]+"


def _lines(result: Result) -> list[str]:
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    return result.output.splitlines()


@ONE_PROBLEM
@pytest.mark.parametrize(
    ("serving", "engine", "commands"),
    [
        ("none", "local", ["batch", "train"]),
        ("fastapi", "local", ["api", "batch", "train"]),
        ("flask", "dask", ["api", "batch", "engine", "train"]),
        ("none", "spark", ["batch", "engine", "train"]),
    ],
)
def test_the_bench_group_has_api_when_the_project_serves_and_engine_on_a_cluster(
    schema: Schema, sample_path: Path, serving: str, engine: str, commands: list[str]
) -> None:
    main = command_line(demo_project(schema, sample_path, serving=serving, engine=engine))
    assert sorted(main.commands["bench"].commands) == commands  # type: ignore[attr-defined]


@ONE_PROBLEM
def test_bench_train_prints_each_stage_memory_and_a_verdict(bench: Bench, schema: Schema) -> None:
    lines = _lines(bench("train", "--rows", "300"))
    assert re.fullmatch(rf"train on 300 rows \({schema.problem_type}\), champion \w+", lines[0])
    assert lines[1].split() == ["stage", "seconds", "share"]
    stages = [line for line in lines[2:] if re.fullmatch(rf"\w+\s+{NUMBER}\s+\d+%", line)]
    assert stages, "one line per stage"
    assert re.fullmatch(rf"total \(wall\)\s+{NUMBER}", lines[2 + len(stages)])
    assert re.fullmatch(r"peak memory \d+ MB", lines[3 + len(stages)])
    verdict = [line for line in lines if line.startswith(("targets met", "target missed"))]
    assert verdict, "the verdict against the targets"


@ONE_PROBLEM
def test_a_missed_target_is_a_printed_verdict_and_no_failure(bench: Bench) -> None:
    lines = _lines(bench("train", "--rows", "200", "--max-seconds", "0", "--max-mb", "1"))
    missed = [line for line in lines if line.startswith("target missed: ")]
    assert [line.split(":")[1].split()[:2] for line in missed] == [
        ["wall", "time"],
        ["peak", "memory"],
    ]
    assert not any(line.startswith("targets met") for line in lines)


def test_the_targets_missed() -> None:
    assert missed_targets(59.0, 1000.0, 60.0, 1024.0) == []
    assert missed_targets(61.0, 2048.0, 60.0, 1024.0) == [
        "wall time 61.0 s > 60 s",
        "peak memory 2048 MB > 1024 MB",
    ]


@ONE_PROBLEM
def test_bench_batch_times_each_size_format_and_log_setting_in_its_own_process(
    bench: Bench, model_dir: Path
) -> None:
    lines = _lines(
        bench("batch", "--sizes", "120", "--formats", "csv", "--formats", "parquet",
              "--chunk-size", "50")
    )  # fmt: skip
    champion = registry.champion(model_dir)
    assert lines[0] == f"batch scoring with {champion} (binary_classification), chunks of 50 rows"
    assert lines[1].split() == ["rows", "format", "log", "seconds", "rows/s", "peak", "MB"]
    runs = [line.split() for line in lines[2:]]
    assert [run[:3] for run in runs] == [
        ["120", kind, log] for kind in ("csv", "parquet") for log in ("no", "log")
    ]
    for run in runs:
        assert all(re.fullmatch(NUMBER, figure) for figure in run[3:]), run


@ONE_PROBLEM
def test_bench_batch_trains_a_champion_when_there_is_none(
    bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "no-models"))
    lines = _lines(bench("batch", "--sizes", "100", "--formats", "parquet"))
    trained = f"no champion in {tmp_path / 'no-models'} - training one on the default sample first"
    assert lines[0] == trained
    assert lines[1].startswith("batch scoring with ")
    runs = [line.split()[:3] for line in lines[3:]]
    assert runs == [["100", "parquet", "no"], ["100", "parquet", "log"]]


def test_a_list_option_is_given_as_a_list_or_repeated() -> None:
    sizes, formats = listed(int), listed(str, ("csv", "parquet"))
    context, option = click.Context(click.Command("batch")), click.Option(["--sizes"])
    assert sizes(context, option, ("1000,5000", "7 8", "9")) == (1000, 5000, 7, 8, 9)
    assert formats(context, option, ("parquet,csv",)) == ("parquet", "csv")
    with pytest.raises(click.BadParameter, match="give some of csv, parquet"):
        formats(context, option, ("csv,json",))
    with pytest.raises(click.BadParameter, match="100, many: not all int"):
        sizes(context, option, ("100,many",))


@ONE_PROBLEM
@pytest.mark.parametrize("serving", ["fastapi", "flask"])
def test_bench_api_loads_the_echo_and_the_api_and_prints_both(bench: Bench, serving: str) -> None:
    lines = _lines(bench("api", "--seconds", "1", "--connections", "2", serving=serving))
    assert lines[0] == f"{serving}: 2 connections, 1 s per server"
    figures = rf"\s+\d+ req\s+{NUMBER} req/s\s+p50\s+{NUMBER} ms\s+p99\s+{NUMBER} ms\s+errors 0"
    for name, line in zip(("echo", "predict"), lines[1:3], strict=True):
        assert re.match(rf"{name}{figures}(\s+server CPU\s+\d+ us/req)?$", line), line
    assert re.fullmatch(
        rf"ratio\s+predict/echo throughput {NUMBER} \(target >= 0.5\); "
        rf"predict p50 {NUMBER} ms \(<= 5\), p99 {NUMBER} ms \(<= 20\)",
        lines[3],
    )


@ONE_PROBLEM
def test_bench_api_says_why_the_server_did_not_start(
    bench: Bench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "no-models"))
    result = bench("api", "--seconds", "1", serving="fastapi")
    assert result.exit_code == 1, result.output
    assert "the server exited with status 1: " in result.output.splitlines()[-1]


@ONE_PROBLEM
@pytest.mark.parametrize("engine", ["dask", "spark"])
def test_bench_engine_prints_both_engines_figures(bench: Bench, engine: str) -> None:
    if engine == "spark" and shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    lines = _lines(
        bench("engine", "--rows", "1500", "--file-rows", "100000", "--partition-rows", "500",
              "--log", engine=engine)
    )  # fmt: skip
    figures = json.loads(lines[-1])
    assert list(figures) == [
        "rows", "partition_rows", "logged", "local_rows_per_s", f"{engine}_rows_per_s", "ratio",
        "worker_peak_mb",
    ]  # fmt: skip
    assert (figures["rows"], figures["partition_rows"], figures["logged"]) == (1500, 500, True)
    assert figures["worker_peak_mb"], "the workers' peak memory"


@ONE_PROBLEM
def test_bench_engine_file_rows_are_whole_blocks(bench: Bench) -> None:
    result = bench("engine", "--file-rows", "150000", engine="dask")
    assert result.exit_code == 2 and "must be a multiple of 100000" in result.output
