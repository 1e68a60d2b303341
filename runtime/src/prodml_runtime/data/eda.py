"""Exploratory data analysis: a Markdown report with PNG figures, driven by the schema.

Column roles and types come from the schema, never from column names, so the report works for
any dataset the schema describes. Id and ignored columns only appear as missing-value counts:
their values (identifiers, personal data) never reach the report.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..core.coerce import category_text, coerce_types, feature_types, target_values
from ..core.dates import part_columns, with_parts
from ..core.schema import Schema
from ..core.validation import format_violations, validate
from ..io import atomic

REPORT_FILE = "eda.md"
HIGH_CORRELATION = 0.8
QUANTILE_BINS = 5
MISSING_LABEL = "(missing)"


def _number(value: float, digits: int) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.{digits}g}"


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> str:
    """A DataFrame as a GitHub Markdown table (index included when it is named)."""
    if frame.index.name is not None:
        frame = frame.reset_index()
    cells = frame.map(lambda v: _number(v, digits) if isinstance(v, float) else str(v))
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |"]
    lines.append("|" + " --- |" * len(frame.columns))
    lines += ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def _categorical_names(schema: Schema) -> list[str]:
    return schema.features_of_type("categorical") + schema.features_of_type("boolean")


def target_indicators(df: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """What "target by group" averages: the target (regression) or one 0/1 column per class.

    Binary problems keep only the positive (last) class, so a group's mean is its target rate.
    """
    target = df[schema.target]
    columns: dict[str, pd.Series]
    if not schema.is_classification:
        columns = {f"mean {schema.target}": pd.to_numeric(target, errors="coerce")}
    else:
        labels = target_values(target, schema)
        classes = schema.classes[-1:] if len(schema.classes) == 2 else schema.classes
        columns = {f"rate {c}": (labels == c).astype(float) for c in classes}
    indicators: pd.DataFrame = pd.DataFrame(columns)
    return indicators


def correlated_pairs(numeric: pd.DataFrame, threshold: float = HIGH_CORRELATION) -> pd.DataFrame:
    """Pairs of numeric columns whose absolute Pearson correlation exceeds ``threshold``."""
    corr = numeric.corr()
    names, r = list(corr.columns), corr.to_numpy(dtype=float)
    rows = [
        {"first": a, "second": names[j], "r": r[i, j]}
        for i, a in enumerate(names)
        for j in range(i + 1, len(names))
        if abs(r[i, j]) > threshold
    ]
    pairs: pd.DataFrame = pd.DataFrame(rows, columns=["first", "second", "r"])
    return pairs


def variance_inflation(numeric: pd.DataFrame) -> pd.Series:
    """VIF per column, 1 / (1 - R²) of a least-squares fit on the other columns (complete rows)."""
    values = numeric.dropna().to_numpy(dtype=float)
    spread = values.std(axis=0)
    values = (values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    vif = {}
    for index, name in enumerate(numeric.columns):
        others = np.column_stack([np.ones(len(values)), np.delete(values, index, axis=1)])
        target = values[:, index]
        coefficients, *_ = np.linalg.lstsq(others, target, rcond=None)
        residual = float(((target - others @ coefficients) ** 2).sum())
        total = float(((target - target.mean()) ** 2).sum())
        r_squared = 1.0 - residual / total if total > 0 else 1.0
        vif[name] = np.inf if r_squared >= 1.0 else 1.0 / (1.0 - r_squared)
    inflation: pd.Series = pd.Series(vif, name="vif")
    return inflation


def quantile_bins(values: pd.Series, bins: int = QUANTILE_BINS) -> pd.Series:
    """Ordered quantile-bin labels of a numeric column; missing values get their own last bin."""
    binned = pd.qcut(values, q=bins, duplicates="drop")
    labels = [str(interval) for interval in binned.cat.categories]
    text = binned.astype(str).where(values.notna(), MISSING_LABEL)
    return _ordered(text, labels)


def category_groups(values: pd.Series) -> pd.Series:
    """Category labels in sorted order; missing values get their own last group."""
    text = values.map(category_text).where(values.notna(), MISSING_LABEL)
    labels = sorted(set(text) - {MISSING_LABEL})
    return _ordered(text, labels)


def _ordered(text: pd.Series, labels: list[str]) -> pd.Series:
    """``text`` as an ordered categorical: ``labels``, then the missing values' group last."""
    groups: pd.Series = pd.Series(
        pd.Categorical(text, categories=[*labels, MISSING_LABEL]), index=text.index
    )
    return groups


def _grid(count: int, draw: Callable[[Axes, int], None], path: Path, columns: int = 3) -> None:
    """Save ``count`` small plots in a grid, drawn by ``draw(axes, index)``."""
    rows = max(1, -(-count // columns))
    figure = Figure(figsize=(4.2 * min(count, columns), 3.2 * rows), layout="constrained")
    for index in range(count):
        draw(figure.add_subplot(rows, min(count, columns), index + 1), index)
    figure.savefig(path, dpi=80)


def _image(name: str, title: str) -> str:
    return f"![{title}]({name})"


class _Report:
    """Markdown sections, written with their figures into one directory."""

    def __init__(self, output: Path) -> None:
        self.output = output
        self.parts: list[str] = []

    def add(self, *blocks: str) -> None:
        self.parts.extend(blocks)

    def write(self) -> Path:
        path = self.output / REPORT_FILE
        path.write_text("\n\n".join(self.parts).rstrip() + "\n", encoding="utf-8")
        return path


def _overview(report: _Report, df: pd.DataFrame, schema: Schema) -> None:
    roles = pd.DataFrame(
        [{"column": c.name, "role": c.role, "type": c.type} for c in schema.columns]
    )
    missing = [c.name for c in schema.columns if c.name not in df.columns]
    report.add(
        "# Exploratory data analysis",
        f"{len(df)} rows, {len(df.columns)} columns; problem type `{schema.problem_type}`, "
        f"target `{schema.target}`. Columns and roles from the schema:",
        markdown_table(roles),
    )
    if missing:
        report.add(f"Not in the data: {', '.join(f'`{m}`' for m in missing)}.")
    violations = validate(df, schema, require_target=False)
    if len(violations):
        report.add(
            "## Schema violations",
            "```text\n" + format_violations(violations) + "\n```",
        )


def _missing(report: _Report, df: pd.DataFrame, schema: Schema) -> None:
    present = [c.name for c in schema.columns if c.name in df.columns]
    share = df[present].isna().mean().rename("missing share").to_frame()
    share.index.name = "column"
    figure = Figure(figsize=(6, 0.35 * len(present) + 1), layout="constrained")
    axes = figure.add_subplot()
    axes.barh(share.index[::-1], share["missing share"][::-1])
    axes.set_xlabel("share of rows missing")
    figure.savefig(report.output / "missing.png", dpi=80)
    report.add("## Missing values", _image("missing.png", "missing values"), markdown_table(share))


def _numeric_names(schema: Schema, features: pd.DataFrame) -> list[str]:
    """The numeric inputs present: numeric features and the inputs derived from dates."""
    names = schema.features_of_type("numeric") + part_columns(schema)
    return [n for n in names if n in features]


def _distributions(report: _Report, features: pd.DataFrame, schema: Schema) -> None:
    report.add("## Feature distributions")
    numeric = _numeric_names(schema, features)
    if numeric:

        def histogram(axes: Axes, index: int) -> None:
            axes.hist(features[numeric[index]].dropna(), bins=30)
            axes.set_title(numeric[index])

        _grid(len(numeric), histogram, report.output / "numeric.png")
        summary = features[numeric].describe().T[["count", "mean", "min", "50%", "max"]]
        q1, q3 = features[numeric].quantile(0.25), features[numeric].quantile(0.75)
        far = (features[numeric] > q3 + 3 * (q3 - q1)) | (features[numeric] < q1 - 3 * (q3 - q1))
        summary["beyond 3 IQR"] = far.sum()
        summary.index.name = "feature"
        report.add(_image("numeric.png", "numeric histograms"), markdown_table(summary))
    categorical = [n for n in _categorical_names(schema) if n in features]
    if categorical:
        counts = [category_groups(features[n]).value_counts(sort=False) for n in categorical]

        def bars(axes: Axes, index: int) -> None:
            axes.bar(counts[index].index, counts[index].to_numpy())
            axes.set_title(categorical[index])
            axes.tick_params(axis="x", labelrotation=30)

        _grid(len(categorical), bars, report.output / "categorical.png")
        report.add(_image("categorical.png", "categorical counts"))


def _target(report: _Report, df: pd.DataFrame, schema: Schema) -> None:
    target = df[schema.target]
    figure = Figure(figsize=(5, 3.2), layout="constrained")
    axes = figure.add_subplot()
    if schema.is_classification:
        labels = target_values(target, schema)
        counts = labels.value_counts().reindex(schema.classes, fill_value=0)
        axes.bar(counts.index, counts.to_numpy())
        table = pd.DataFrame({"rows": counts, "share": counts / counts.sum()})
        table.index.name = "class"
        heading, text = "## Class balance", markdown_table(table)
    else:
        values = pd.to_numeric(target, errors="coerce")
        axes.hist(values.dropna(), bins=40)
        stats = values.describe()[["mean", "std", "min", "50%", "max"]].rename("value")
        heading, text = "## Target distribution", markdown_table(stats.to_frame().T)
    axes.set_title(schema.target)
    figure.savefig(report.output / "target.png", dpi=80)
    report.add(heading, _image("target.png", "target"), text)


def _correlations(report: _Report, features: pd.DataFrame, schema: Schema) -> None:
    numeric = features[_numeric_names(schema, features)]
    if numeric.shape[1] < 2:
        return
    corr = numeric.corr()
    figure = Figure(figsize=(1.0 * len(corr) + 2.5, 0.9 * len(corr) + 1.5), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(corr.to_numpy(), vmin=-1, vmax=1, cmap="coolwarm")
    axes.set_xticks(range(len(corr)), corr.columns, rotation=45, ha="right")
    axes.set_yticks(range(len(corr)), corr.columns)
    figure.colorbar(image)
    figure.savefig(report.output / "correlation.png", dpi=80)
    pairs = correlated_pairs(numeric)
    vif = variance_inflation(numeric).to_frame()
    vif.index.name = "feature"
    report.add(
        "## Correlations and multicollinearity",
        _image("correlation.png", "correlation heatmap"),
        f"Pairs with |r| > {HIGH_CORRELATION}:",
        markdown_table(pairs) if len(pairs) else "none.",
        "Variance inflation factors (above 5 to 10 suggests redundant features):",
        markdown_table(vif),
    )


def _target_relationships(
    report: _Report, df: pd.DataFrame, features: pd.DataFrame, schema: Schema
) -> None:
    """Mean target (or class rate) per quantile bin of each numeric feature and per category."""
    indicators = target_indicators(df, schema)
    numeric = _numeric_names(schema, features)
    groups = {n: quantile_bins(features[n]) for n in numeric}
    groups |= {n: category_groups(features[n]) for n in _categorical_names(schema) if n in features}
    tables = {name: indicators.groupby(keys, observed=True).mean() for name, keys in groups.items()}
    names = list(tables)

    def lines(axes: Axes, index: int) -> None:
        table = tables[names[index]]
        for column in table.columns:
            axes.plot(range(len(table)), table[column].to_numpy(), marker="o", label=column)
        axes.set_xticks(range(len(table)), table.index, rotation=30, ha="right", fontsize=7)
        axes.set_title(names[index])
        if index == 0:
            axes.legend(fontsize=7)

    _grid(len(names), lines, report.output / "target_by_feature.png")
    report.add(
        "## Target by feature",
        "Mean target (regression) or class rate (classification) per quantile bin of each "
        "numeric feature and per category.",
        _image("target_by_feature.png", "target by feature"),
    )
    for name, table in tables.items():
        table.insert(0, "rows", groups[name].value_counts())
        table.index.name = name
        report.add(f"### {name}", markdown_table(table))


def write_report(df: pd.DataFrame, schema: Schema, output: Path) -> Path:
    """Write ``eda.md`` and its figures into ``output`` (replaced whole, once all is written);
    return the report's path."""
    with atomic.folder(output) as staging:
        report = _Report(staging)
        _overview(report, df, schema)
        _missing(report, df, schema)
        types, declared, formats = feature_types(schema)
        present = {n: t for n, t in types.items() if n in df.columns}
        features = with_parts(coerce_types(df, present, declared, formats), schema)
        _distributions(report, features, schema)
        if schema.target in df.columns:
            _target(report, df, schema)
        _correlations(report, features, schema)
        if schema.target in df.columns:
            _target_relationships(report, df, features, schema)
        name = report.write().name
    return output / name
