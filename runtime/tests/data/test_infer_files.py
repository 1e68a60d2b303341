"""Schema inference on files exported elsewhere: other separators and decimal marks (read with
the schema's ``separator`` and ``decimal`` by ``io.tables``), messages that stay short whatever
the file, and targets with classes too rare for the training protocol (``--rare-classes``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from prodml_runtime.cli import command_line
from prodml_runtime.config import load_schema
from prodml_runtime.core.coerce import coerce_features, numbers, target_values
from prodml_runtime.core.schema import Schema
from prodml_runtime.core.validation import validate
from prodml_runtime.data.infer import InferenceError, infer_schema
from prodml_runtime.data.sample import file_example
from prodml_runtime.io.tables import columns, read_chunks, read_table, sniff
from prodml_runtime.project import Project
from prodml_runtime.training.train import target_series
from sklearn.datasets import load_diabetes

CLI = command_line(Project(name="data", data=Path("data.csv"), models={}))


def _diabetes() -> pd.DataFrame:
    """scikit-learn's diabetes data in its original units, as a clinic exports it."""
    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(
        columns={"target": "progression"}
    )
    return frame.assign(sex=frame["sex"].map({1.0: "f", 2.0: "m"}))


@pytest.mark.parametrize(
    ("separator", "decimal", "encoding"),
    [(";", ",", "cp1252"), ("\t", ".", "utf-8"), ("|", ",", "cp1252"), (",", ".", "utf-8")],
)
def test_an_export_is_read_with_its_separator_decimal_mark_and_encoding(
    tmp_path: Path, separator: str, decimal: str, encoding: str
) -> None:
    # Given the file a spreadsheet writes in a European locale (or with tabs, or pipes), its
    # text in Windows' code page (as Excel saves CSV) or UTF-8
    frame = _diabetes().assign(sex=lambda f: f["sex"].map({"f": "weiblich", "m": "männlich"}))
    path = tmp_path / "clinic.csv"
    frame.to_csv(path, sep=separator, decimal=decimal, encoding=encoding, index=False)
    # When its schema is inferred
    out = tmp_path / "schema.yaml"
    args = ["schema", "infer", str(path), "--target", "progression", "-o", str(out)]
    result = CliRunner().invoke(CLI, args)
    # Then the schema records how the file is written (only what differs from the default)
    assert result.exit_code == 0, result.output
    schema = load_schema(out)
    assert (schema.separator, schema.decimal, schema.encoding) == (separator, decimal, encoding)
    text = out.read_text(encoding="utf-8")
    assert ("separator:" in text) == (separator != ",") and ("decimal:" in text) == (decimal != ".")
    assert ("encoding:" in text) == (encoding != "utf-8")
    assert ("not UTF-8 text: read as cp1252" in result.output) == (encoding != "utf-8")
    assert schema.column("sex").categories == ("männlich", "weiblich")
    numeric = ["age", "bmi", "bp", *(f"s{i}" for i in range(1, 7))]
    assert schema.features_of_type("numeric") == numeric
    # And the readers given the schema's values read the numbers the file holds
    read = schema.reading
    whole = read_table(path, **read)
    assert validate(whole, schema).empty
    pd.testing.assert_series_equal(numbers(whole["bmi"]), frame["bmi"], check_exact=False)
    chunks = pd.concat(read_chunks(path, 100, schema.feature_names, **read))
    pd.testing.assert_frame_equal(
        coerce_features(chunks, schema), coerce_features(whole, schema), check_exact=False
    )
    assert columns(path, separator=schema.separator, encoding=schema.encoding) == list(frame)
    assert file_example(schema, path)["bmi"] == pytest.approx(frame["bmi"].iloc[0])


def test_sniff_reads_quoted_cells_and_falls_back_to_commas(tmp_path: Path) -> None:
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('a,b,c\n"1;2",x,"p|q"\n"3;4",y,"r|s"\n', encoding="utf-8")
    single = tmp_path / "single.csv"
    single.write_text("value\n1,5\n2,5\n", encoding="utf-8")
    assert sniff(quoted) == (",", ".") and sniff(single) == (",", ".")


def test_an_unknown_column_lists_the_columns_found_and_the_likely_separator(
    tmp_path: Path,
) -> None:
    # Given a ';' file read as if written with commas
    path = tmp_path / "clinic.csv"
    _diabetes().to_csv(path, sep=";", decimal=",", index=False)
    misread = read_table(path)
    header = path.read_text(encoding="utf-8").splitlines()[0]
    # When the target is not among its columns, even given as the whole header line 50 times
    for target in ("progression", header * 50):
        with pytest.raises(InferenceError) as error:
            infer_schema(misread, target, source=path.name)
        # Then the message lists what was found and names the separator, in a few lines
        message = str(error.value)
        assert "it has 1 column: 'age;sex;bmi;bp;s1;s2;s3;s4;s5;s6;progres'..." in message
        assert "the header looks ';'-separated, not ','-separated" in message
        assert len(message) < 400
    wide = pd.DataFrame(np.zeros((25, 300)), columns=[f"c{i}" for i in range(300)])
    with pytest.raises(InferenceError, match=re.escape("'c19' and 280 more")):
        infer_schema(wide, "target")


def test_a_separator_given_wrong_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "clinic.csv"
    _diabetes().to_csv(path, sep=";", index=False)
    args = ["schema", "infer", str(path), "--target", "progression", "--separator", ","]
    result = CliRunner().invoke(CLI, args)
    assert result.exit_code == 2 and "looks ';'-separated" in result.output


def _rare(extra: int = 25) -> pd.DataFrame:
    """Two common classes, two rare ones and ``extra`` seen once."""
    labels = ["a"] * 60 + ["b"] * 50 + ["c"] * 6 + ["d"] * 5 + [f"r{i}" for i in range(extra)]
    rng = np.random.default_rng(2)
    return pd.DataFrame({"x": rng.normal(size=len(labels)), "label": labels})


def test_rare_classes_are_refused_with_a_way_forward_in_bounded_length() -> None:
    with pytest.raises(InferenceError) as error:
        infer_schema(_rare(), "label")
    message = str(error.value)
    assert "class(es) 'c' (6), 'd' (5), 'r0' (1)" in message and "and 17 more have" in message
    assert "--rare-classes drop" in message and "--rare-classes merge" in message
    with pytest.raises(InferenceError) as longer:
        infer_schema(_rare(extra=1000), "label")
    assert len(str(longer.value)) == len(message) + 1, "a thousand more: the count grows"


@pytest.mark.parametrize(
    ("mode", "classes", "read_as"),
    [("drop", ["a", "b"], None), ("merge", ["a", "b", "other"], "other")],
)
def test_rare_classes_are_dropped_or_merged_and_every_reader_agrees(
    tmp_path: Path, mode: str, classes: list[str], read_as: str | None
) -> None:
    # Given a target with classes too rare to train on
    frame = _rare()
    path = tmp_path / "rare.csv"
    frame.to_csv(path, index=False)
    # When its schema is inferred with --rare-classes
    out = tmp_path / "schema.yaml"
    args = ["schema", "infer", str(path), "--target", "label", "--rare-classes", mode]
    result = CliRunner().invoke(CLI, [*args, "-o", str(out)])
    # Then the schema lists the classes training sees, and reading maps the rare ones alike
    assert result.exit_code == 0, result.output
    assert f"--rare-classes {mode}: 27 class(es)" in result.stderr
    schema: Schema = load_schema(out)
    assert schema.classes == classes
    target = schema.column("label")
    assert target.aliases is not None and set(target.aliases) == {"c", "d"} | {
        f"r{i}" for i in range(25)
    }
    assert validate(read_table(path), schema).empty
    rare = ~frame["label"].isin(["a", "b"])
    read = target_values(frame["label"], schema)
    assert read[~rare].tolist() == frame.loc[~rare, "label"].tolist()
    assert (read[rare].isna() if read_as is None else read[rare] == read_as).all()
    assert set(target_series(frame, schema).dropna()) == set(classes), "training reads the same"


def test_rare_classes_too_few_to_merge_are_refused_pointing_at_drop() -> None:
    frame = _rare(extra=0).replace({"c": "a"})
    with pytest.raises(InferenceError, match="still fewer than 10: use --rare-classes drop"):
        infer_schema(frame, "label", rare_classes="merge")
