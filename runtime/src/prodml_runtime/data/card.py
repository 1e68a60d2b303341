"""The data card of a user's file (``schema infer --data-card``): what is known from the data.

What the file says (size, hash, each column's role, type, missing share and why it was inferred
so, the target's balance) is written out; what only its owner knows (where it comes from, the
period, consent, known gaps) is asked, under the heading the model card's readers look for.
"""

from __future__ import annotations

import pandas as pd

from ..core import clock, coerce
from .infer import Inferred


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def _format(found: Inferred) -> str:
    return (
        f"- **Format**: cells separated by {found.separator!r}, numbers written with "
        f"{found.decimal!r} as the decimal mark."
    )


def data_card(found: Inferred, frame: pd.DataFrame, sha256: str) -> str:
    """docs/data-card.md for the file ``found`` was inferred from (``frame``, as read)."""
    entry = found.choices[found.target].entry
    classes = found.problem_type != "regression"
    target = (
        coerce.categories(frame[found.target], entry["categories"], entry.get("aliases"))
        if classes
        else coerce.numbers(frame[found.target])
    ).dropna()
    labelled = len(target)
    written = [] if (found.separator, found.decimal) == (",", ".") else [_format(found)]
    lines = [
        f"# Data card: {found.source}",
        "",
        f"Written by `schema infer` on {clock.iso()[:10]} from `{found.source}` "
        f"({found.rows} rows, {len(frame.columns)} columns, sha256 `{sha256[:16]}...`); "
        "`configs/schema.yaml` holds the same choices with their reasons. Training records the "
        "hash of the file it used in every model's metadata, so a model traces back to it.",
        "",
        f"- **Task**: {found.problem_type.replace('_', ' ')}, predicting `{found.target}` "
        f"({found.problem_why}).",
        f"- **Labelled rows**: {labelled} of {found.rows}"
        + ("; unlabelled rows are left out of training." if labelled < found.rows else "."),
        "- **Missing values**: empty cells"
        + (f" and {', '.join(f'`{v}`' for v in found.na_values)}" if found.na_values else "")
        + ".",
        *written,
        "",
        "## Columns",
        "",
        "| column | role | type | missing | inferred because |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, choice in found.choices.items():
        missing = 100 * float(frame[name].isna().mean())
        role, kind = choice.entry.get("role", "feature"), choice.entry["type"]
        lines.append(
            f"| `{_cell(name)}` | {role} | {kind} | {missing:.0f}% | {_cell(choice.reason)} |"
        )
    lines += ["", "## Target", ""]
    if not classes:
        lines.append(
            f"From {target.min():g} to {target.max():g}; median {target.median():g}, "
            f"mean {target.mean():g}."
        )
    else:
        shares = 100 * target.value_counts(normalize=True)
        lines += ["| class | share |", "| --- | --- |"]
        lines += [f"| `{_cell(label)}` | {share:.1f}% |" for label, share in shares.items()]
    lines += [
        "",
        "## Provenance (for the data owner to answer)",
        "",
        "The file cannot tell these; a model card's readers need them before the model is used:",
        "",
        "- Where does the data come from, and which period and population does it cover?",
        "- Was it collected with consent for this use; who may access it (licence, retention)?",
        "- Which groups or cases are missing or under-represented; how were labels obtained?",
        "- Which columns are personal or sensitive (mark them `sensitive: true` in the schema)?",
    ]
    return "\n".join(lines) + "\n"
