"""The monitoring report: report.json, report.md and one PNG per feature (reference vs current)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..io import atomic
from .checks import ALERT, NOT_ENOUGH

PLOTS = "plots"


def breach_lines(report: dict[str, Any]) -> list[str]:
    """One line per breached threshold, e.g. ``ALERT psi tenure: 0.8123 > 0.25``."""
    return [
        f"ALERT {c['check']} {c['subject']}: {c['value']:.4f} {c['rule']}"
        for c in report["checks"]
        if c["status"] == ALERT
    ]


def summary_lines(report: dict[str, Any], min_rows: int, output: Path) -> list[str]:
    """What ``monitor`` prints: the breaches, what could not be judged, the labels, a verdict."""
    lines = list(report["breaches"])
    unjudged = sorted({c["check"] for c in report["checks"] if c["status"] == NOT_ENOUGH})
    if unjudged:
        lines.append(
            f"note: not enough data to judge {', '.join(unjudged)} "
            f"(min_rows {min_rows}, {report['rows']} rows)"
        )
    quality = report["quality"]
    if quality is not None:
        lines.append(
            f"labels: {quality['matched']} of {quality['labels']} matched logged predictions "
            f"({quality['matched_champion']} from model {report['model_version']})"
        )
    lines.append(
        f"monitoring {report['status']}: {len(report['breaches'])} alert(s) in "
        f"{len(report['checks'])} checks on {report['rows']} rows, model "
        f"{report['model_version']}; report in {output / 'report.md'}"
    )
    return lines


def _plot(path: Path, title: str, details: dict[str, Any]) -> None:
    figure = Figure(figsize=(6.5, 3.8), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = np.arange(len(details["bins"]))
    axes.bar(positions - 0.2, details["reference_shares"], width=0.4, label="reference")
    axes.bar(positions + 0.2, details["current_shares"], width=0.4, label="current")
    axes.set_xticks(positions, details["bins"], rotation=35, ha="right", fontsize=7)
    axes.set_ylabel("share of rows")
    axes.set_title(f"{title} (PSI {details['psi']:.3f})")
    axes.legend()
    figure.savefig(path, dpi=90)


def _number(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: verdict, summary table of checks, plots per feature."""
    status = report["status"]
    verdict = {
        ALERT: f"**ALERT**: {len(report['breaches'])} threshold(s) breached.",
        "ok": "**OK**: no threshold breached.",
    }[status]
    lines = [
        f"# Monitoring report: model {report['model_version']}",
        "",
        f"{verdict} Data: {report['source']}, {report['rows']} rows "
        f"({report['violations']} breaking the schema), generated {report['generated_at']}. "
        f"Model age {report['model_age_days']:.1f} days.",
        "",
    ]
    if report["breaches"]:
        lines += [f"- `{line}`" for line in report["breaches"]] + [""]
    lines += [
        "## Checks",
        "",
        "| check | subject | value | alert when | status |",
        "|---|---|---|---|---|",
    ]
    for check in report["checks"]:
        marker = {ALERT: "**alert**", NOT_ENOUGH: "not enough data"}.get(check["status"], "ok")
        lines.append(
            f"| {check['check']} | {check['subject']} | {_number(check['value'])} | "
            f"{check['rule']} | {marker} |"
        )
    quality = report.get("quality")
    if quality:
        lines += [
            "",
            "## Live quality (delayed labels)",
            "",
            f"{quality['matched']} of {quality['labels']} labels matched logged predictions, "
            f"{quality['matched_champion']} of them from this model. Live {quality['subject']} "
            f"{_number(quality['live'])} vs offline test {_number(quality['offline'])}.",
        ]
        if quality.get("note"):
            lines.append(f"Not judged: {quality['note']}.")
    lines += ["", "## Distributions (reference = training data)", ""]
    for name, plot in report["plots"].items():
        lines += [f"### {name}", "", f"![{name}]({plot})", ""]
    return "\n".join(lines).rstrip() + "\n"


def plot_file_name(name: str, taken: set[str]) -> str:
    """A file name for the plot of column ``name``, unique among ``taken`` (which it joins).

    Column names are free text (``od280/od315``, ``mean radius``): the file name keeps only
    characters that are safe in a path and a Markdown link, and never differs only by case.
    """
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._") or "column"
    candidate, count = stem, 1
    while candidate.lower() in taken:
        count += 1
        candidate = f"{stem}_{count}"
    taken.add(candidate.lower())
    return f"{candidate}.png"


def write_report(report: dict[str, Any], output: Path) -> Path:
    """Write plots, report.json and report.md into ``output`` (replaced whole, once all is
    written); return the Markdown path."""
    with atomic.folder(output) as staging:
        plots = staging / PLOTS
        plots.mkdir()
        subjects = {**report["features"], "prediction": report["prediction"]}
        report["plots"] = {}
        taken: set[str] = set()
        for name, details in subjects.items():
            path = plots / plot_file_name(name, taken)
            _plot(path, name, details)
            report["plots"][name] = path.relative_to(staging).as_posix()
        (staging / "report.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
        (staging / "report.md").write_text(markdown(report), encoding="utf-8")
    return output / "report.md"
