"""Markdown for ``reports/evaluation.md`` and the model card, built from an evaluation report."""

from __future__ import annotations

from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from ..io import atomic

SMALL_GROUP = 30
FAIRNESS_GAP = 0.05
#: docs/design.md's "Current model" section lies between these two lines.
CURRENT_MODEL_START = "<!-- current-model: regenerated from the latest evaluation -->"
CURRENT_MODEL_END = "<!-- end current-model -->"
FIGURE_TITLES = {
    "confusion_matrix": "Confusion matrix",
    "roc_curve": "ROC curve",
    "pr_curve": "Precision-recall curve",
    "calibration": "Calibration curve",
    "predicted_vs_actual": "Predicted vs actual",
    "residuals": "Residuals",
    "permutation_importance": "Permutation importance",
}


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def project_summary(package: str) -> str | None:
    """The project's one-line description from its installed package metadata."""
    for dist in importlib_metadata.packages_distributions().get(package, []):
        summary = importlib_metadata.metadata(dist).json.get("summary")
        if summary:
            return str(summary)
    return None


def metrics_table(report: dict[str, Any]) -> list[str]:
    """Test metrics of baseline, linear and champion, with the champion's lift over both."""
    test, champion = report["test"], report["champion"]
    families = list(dict.fromkeys(["baseline", "linear", champion]))
    header = ["metric", *(f"{f} (champion)" if f == champion else f for f in families)]
    header += ["lift vs baseline", "lift vs linear"]
    rows = [
        [
            f"`{name}`",
            *(_number(test[f][name]) for f in families),
            _number(report["lift"]["baseline"][name]),
            _number(report["lift"]["linear"][name]),
        ]
        for name in test[champion]
    ]
    return _table(header, rows)


def cv_table(report: dict[str, Any]) -> list[str]:
    """Primary metric per candidate: CV mean ± std on train, and on the validation split."""
    metric = report["primary_metric"]
    rows = [
        [
            f"{family} (champion)" if family == report["champion"] else family,
            f"{scores[metric]['mean']:.4f} ± {scores[metric]['std']:.4f}",
            _number(report["validation"].get(family, {}).get(metric)),
        ]
        for family, scores in report["cv"].items()
    ]
    return _table(["candidate", f"CV {metric} (mean ± std)", f"validation {metric}"], rows)


def group_table(rows: list[dict[str, Any]], names: list[str] | None = None) -> list[str]:
    """One row per group: its size and metrics (``names``: which ones; default all)."""
    measured: dict[str, Any] = next((row["metrics"] for row in rows if row["metrics"]), {})
    names = names or list(measured)
    body = [
        [
            f"`{row['value']}`",
            str(row["n"]),
            *(_number((row["metrics"] or {}).get(name)) for name in names),
        ]
        for row in rows
    ]
    return _table(["group", "n", *(f"`{n}`" for n in names)], body)


def importance_table(report: dict[str, Any]) -> list[str]:
    rows = [
        [f"`{row['feature']}`", f"{row['mean']:.4f} ± {row['std']:.4f}"]
        for row in report["feature_importance"]
    ]
    return _table(["feature", f"drop in {report['primary_metric']} when shuffled"], rows)


def _slices_and_fairness(report: dict[str, Any], compact: bool) -> list[str]:
    """Slice and fairness tables: every metric, or (compact) the primary one and group rates."""
    metric, model_metrics = report["primary_metric"], set(report["test"][report["champion"]])
    lines = ["## Slices", ""]
    for column, rows in report["slices"].items():
        lines += [f"### `{column}`", "", *group_table(rows, [metric] if compact else None)]
    lines += ["## Fairness", ""]
    if not report["fairness"]:
        lines += ["No column is marked `sensitive: true` in the schema.", ""]
    for column, view in report["fairness"].items():
        gaps = view["gaps"]
        names = [metric, *(n for n in gaps if n not in model_metrics)] if compact else list(gaps)
        spread = ", ".join(f"`{n}` {gaps[n]:.4f}" for n in names if n in gaps) or "n/a"
        lines += [f"### `{column}`", ""]
        lines += [*group_table(view["groups"], names if compact else None)]
        lines += [f"Largest difference between groups: {spread}.", ""]
    return lines


def _settings(params: dict[str, Any]) -> str:
    """Hyperparameters as ``name=value``, floats to four significant digits."""
    shown = (f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
    return ", ".join(shown) or "library defaults"


def _header(report: dict[str, Any]) -> list[str]:
    data = report["data"]
    better = "higher" if report["higher_is_better"] else "lower"
    return [
        f"Champion **{report['champion']}**, evaluated on `{data.get('path', 'data')}` "
        f"(sha256 `{str(data.get('sha256'))[:12]}`, {data['rows']} rows). The test split "
        f"({data['test_rows']} rows) was used neither for training nor for choosing the model.",
        f"Primary metric: `{report['primary_metric']}` ({better} is better); lift is positive "
        "when the champion is better.",
        "",
    ]


def sampling_lines(report: dict[str, Any]) -> list[str]:
    """What was sampled to bound training time on large data (nothing: no lines)."""
    sampling = report.get("sampling") or {}
    lines = []
    if sampling.get("tuning_rows", 0) < sampling.get("training_rows", 0):
        lines.append(
            f"The searches tuned on a random sample of {sampling['tuning_rows']:,} of the "
            f"{sampling['training_rows']:,} training rows (`search_rows`; every class kept); "
            "the chosen settings were then refitted on every training and validation row."
        )
    if sampling.get("tree_rows"):
        lines.append(
            f"Each random-forest tree grew on a bootstrap of at most {sampling['tree_rows']:,} "
            "rows (`tree_rows`)."
        )
    return [*lines, ""] if lines else []


def evaluation_markdown(report: dict[str, Any]) -> str:
    """reports/evaluation.md: every table of the report, with the figures linked."""
    lines = [f"# Evaluation of model {report['model_version']}", "", *_header(report)]
    lines += ["## Test metrics", "", *metrics_table(report)]
    lines += ["## Cross-validation and validation", "", *cv_table(report), *sampling_lines(report)]
    lines += _slices_and_fairness(report, compact=False)
    lines += ["## Feature importance", "", *importance_table(report), *leak_lines(report)]
    lines += ["## Figures", ""]
    for name, path in report.get("figures", {}).items():
        lines += [f"![{FIGURE_TITLES.get(name, name)}]({path})", ""]
    return "\n".join(lines).rstrip() + "\n"


def leak_lines(report: dict[str, Any]) -> list[str]:
    """The columns the schema leaves out as leaks: each predicted the target almost alone."""
    leaks = report.get("leaks") or []
    if not leaks:
        return []
    named = ", ".join(f"`{name}`" for name in leaks)
    return [
        "## Columns left out as leaks",
        "",
        f"{named}: each predicted the target almost alone in the data the schema was inferred "
        "from, which a column known only after the outcome does (`leak: true` in "
        "configs/schema.yaml). If one is known at prediction time, delete its `role: ignored` "
        "and `leak: true` lines and retrain.",
        "",
    ]


def limitations(report: dict[str, Any]) -> list[str]:
    """Caveats read from the numbers, then the ones that always hold."""
    metric, champion = report["primary_metric"], report["champion"]
    notes = []
    over_linear = report["lift"]["linear"][metric]
    if champion != "linear" and over_linear < 0.01:
        notes.append(
            f"The champion beats the linear model by only {over_linear:.4f} `{metric}`: "
            "the simpler model may be preferable."
        )
    for column, rows in report["slices"].items():
        small = [row["value"] for row in rows if row["n"] < SMALL_GROUP or not row["metrics"]]
        if small:
            notes.append(
                f"Slices of `{column}` with under {SMALL_GROUP} test rows or undefined metrics "
                f"({', '.join(small)}): their numbers are unreliable."
            )
    for column, view in report["fairness"].items():
        for name in (metric, "true_positive_rate"):
            gap = view["gaps"].get(name)
            if gap is not None and gap > FAIRNESS_GAP:
                notes.append(f"`{name}` differs by {gap:.4f} between groups of `{column}`.")
    unused = [row["feature"] for row in report["feature_importance"] if row["mean"] <= 0]
    if unused:
        notes.append(f"Features that do not help on the test split: {', '.join(unused)}.")
    if report.get("leaks"):
        notes.append(f"Left out as leaks: {', '.join(report['leaks'])} (reports/evaluation.md).")
    return [
        *notes,
        f"All figures come from one test split of {report['data']['test_rows']} rows, "
        "without confidence intervals.",
        "`make data` writes a synthetic sample: a model trained on it is a demonstration, "
        "not a model of real customers or events.",
    ]


def model_card_markdown(report: dict[str, Any], metadata: dict[str, Any], package: str) -> str:
    """docs/model-card.md of the project ``package``: model details, intended use, data,
    metrics, caveats, retraining."""
    params, lineage = metadata.get("params", {}), metadata.get("lineage") or {}
    libraries = ", ".join(f"{k} {v}" for k, v in metadata.get("libraries", {}).items())
    hyperparameters = params.get("best_params", {}).get(report["champion"], {})
    schema = metadata.get("schema", {})
    features = [c["name"] for c in schema.get("columns", []) if c.get("role") == "feature"]
    details = [
        ["Version", f"`{report['model_version']}` (created {metadata.get('created_at')})"],
        ["Family", f"{report['champion']} ({_settings(hyperparameters)})"],
        ["Task", f"{report['problem_type'].replace('_', ' ')} of `{report['target']}`"],
        ["Features", ", ".join(f"`{f}`" for f in features)],
        ["Artifact sha256", f"`{metadata.get('sha256')}`"],
        ["Training data sha256", f"`{lineage.get('data_hash')}`"],
        ["Training run", f"`{lineage.get('run_id')}`"],
        ["Code (git commit)", f"`{lineage.get('git_commit') or 'not in a git repository'}`"],
        ["Libraries", libraries],
    ]
    summary = project_summary(package) or (
        "(the project description is read from the installed package: `pip install -e .`)"
    )
    lines = [
        f"# Model card: {package}",
        "",
        f"Regenerated by `make train` and `make evaluate` (`python -m {package} evaluate`) "
        "from the latest evaluation: edits here are overwritten. Figures and every table: "
        "`reports/evaluation.md`.",
        "",
        "## Model details",
        "",
        *_table(["", ""], [[f"**{k}**", v] for k, v in details]),
        "## Intended use",
        "",
        summary,
        "",
        "Inputs must pass the schema (`configs/schema.yaml`): batch scoring and the API refuse "
        "values outside its types, ranges and categories. Not intended for populations unlike "
        "the training data, or for automated decisions about people without human review.",
        "",
        "## Evaluation",
        "",
        *_header(report),
        *metrics_table(report),
        *cv_table(report),
        *_slices_and_fairness(report, compact=True),
        "## Limitations",
        "",
        *(f"- {note}" for note in limitations(report)),
        "",
        "## How to retrain",
        "",
        "```bash",
        "make data      # or put your data at data/raw/sample.csv",
        "make train     # validate, tune, register, canary, promote if the gate passes, evaluate",
        "make evaluate  # re-evaluate the champion: rewrites reports/ and this card",
        "```",
        "",
        f"Promotion is gated (`min_improvement` in `configs/train.yaml`); "
        f"`python -m {package} rollback` restores the previous champion.",
    ]
    return "\n".join(lines).rstrip() + "\n"


def current_model_markdown(report: dict[str, Any], metadata: dict[str, Any]) -> str:
    """The design doc's "Current model" section: version, lineage and the primary metric."""
    metric, champion, test = report["primary_metric"], report["champion"], report["test"]
    lift = {name: _number(report["lift"][name][metric]) for name in ("baseline", "linear")}
    lineage, data = metadata.get("lineage") or {}, report["data"]
    better = "higher" if report["higher_is_better"] else "lower"
    commit = lineage.get("git_commit") or "not in a git repository"
    return "\n".join(
        [
            f"- Champion: `{report['model_version']}` ({champion}), created "
            f"{metadata.get('created_at')}.",
            f"- Test `{metric}` ({better} is better): {_number(test[champion][metric])}; "
            f"dummy baseline {_number(test['baseline'][metric])} (lift {lift['baseline']}), "
            f"linear model {_number(test['linear'][metric])} (lift {lift['linear']}).",
            f"- Evaluated on the {data['test_rows']} held-out test rows of `{data.get('path')}` "
            f"(sha256 `{str(data.get('sha256'))[:12]}`); code at commit `{commit}`.",
            "- Every metric, slice and fairness table: [the model card](model-card.md).",
        ]
    )


def update_design_doc(path: Path, report: dict[str, Any], metadata: dict[str, Any]) -> bool:
    """Rewrite the "Current model" section of ``path`` (docs/design.md) from an evaluation.

    Only the text between ``CURRENT_MODEL_START`` and ``CURRENT_MODEL_END`` changes; the file is
    written only when that text differs. Returns False (and writes nothing) when the file or its
    markers are missing, so a project that removed the section is left alone.
    """
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    start, end = text.find(CURRENT_MODEL_START), text.find(CURRENT_MODEL_END)
    if start < 0 or end < start:
        return False
    head = text[: start + len(CURRENT_MODEL_START)]
    updated = f"{head}\n{current_model_markdown(report, metadata)}\n{text[end:]}"
    if updated != text:
        atomic.write_text(path, updated)
    return True
