"""The option schema: validators, resolution order, and that every consumer reads it."""

import json
import re

import pytest

from bake import ROOT, STRUCTURAL, all_combinations, answers, matrix, pairs
from prodml.generate import render_default
from prodml.options import OPTIONS, AnswerError, cookiecutter_json, markdown_table, resolve
from prodml.options import main as options_main


def test_cookiecutter_json_is_generated_from_the_schema(monkeypatch):
    on_disk = json.loads((ROOT / "template" / "cookiecutter.json").read_text())
    assert on_disk == cookiecutter_json(), "run `python -m prodml.options --write`"
    monkeypatch.chdir(ROOT)
    assert options_main([]) == 0


def test_options_check_catches_and_write_fixes_a_stale_cookiecutter_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "template").mkdir()
    (tmp_path / "template" / "cookiecutter.json").write_text("{}")
    assert options_main([]) == 1
    assert options_main(["--write"]) == 0
    assert options_main([]) == 0
    assert (
        json.loads((tmp_path / "template" / "cookiecutter.json").read_text()) == cookiecutter_json()
    )


def test_readme_option_table_is_the_schema():
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_defaults_are_valid_and_derived():
    chosen = answers()
    assert chosen["project_slug"] == "churn-model"
    assert chosen["package_name"] == "churn_model"
    assert chosen["year"].isdigit()
    assert chosen["docker"] == "yes"


def test_derived_defaults_follow_earlier_answers():
    chosen = answers(project_name="Fraud Detector v2")
    assert (chosen["project_slug"], chosen["package_name"]) == (
        "fraud-detector-v2",
        "fraud_detector_v2",
    )


def test_option_that_does_not_apply_takes_its_fixed_value():
    assert answers(serving="none")["docker"] == "no"


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("project_slug", "Bad Slug", "lowercase letters"),
        ("package_name", "class", "keyword"),
        ("package_name", "match", "keyword"),
        ("package_name", "json", "standard library"),
        ("package_name", "sklearn", "dependency"),
        ("package_name", "prodml", "dependency"),
        ("package_name", "test", "dependency"),
        ("package_name", "1model", "identifier"),
        ("author_email", "not-an-email", "you@example.com"),
        ("license", "GPL", "MIT, Apache-2.0"),
        ("python_version", "3.9", "3.10"),
        ("year", "99", "four-digit"),
        ("project_name", "   ", "non-empty"),
        ("project_name", "two\nlines", "one line"),
        ("description", "bell\x07", "control characters"),
    ],
)
def test_bad_answer_names_field_value_and_what_is_valid(key, value, fragment):
    with pytest.raises(AnswerError) as caught:
        answers(**{key: value})
    problem = caught.value.problems[0]  # derived answers may add their own problems after it
    assert key in problem and repr(value) in problem and fragment in problem


def test_every_problem_is_reported_at_once():
    with pytest.raises(AnswerError) as caught:
        resolve(
            {"serving": "none", "docker": "yes", "ci": "jenkins", "sevring": "x"},
            {},
            render_default,
        )
    text = "\n".join(caught.value.problems)
    assert "did you mean 'serving'" in text
    assert "ci='jenkins'" in text
    assert "docker='yes' does not apply unless serving is not none" in text


def test_fixed_answers_win_over_defaults_and_are_not_asked():
    asked = []

    def ask(option, default, so_far):
        asked.append(option.name)
        return default

    chosen = resolve({"serving": "flask"}, {"serving": "none", "ci": "gitlab"}, render_default, ask)
    assert chosen["serving"] == "flask" and chosen["ci"] == "gitlab"
    assert "serving" not in asked and "ci" in asked


def test_the_render_matrix_covers_every_pair_of_option_values():
    # Every valid combination, and the covering array the render tier runs.
    combos = list(all_combinations())
    assert len(combos) == 4 * 4 * 3 * 3 * 2 * 5 * 2 * 3
    rendered = matrix()
    assert len(rendered) == 3 * 5 * 3 * 2 * 2, "every structural combination"
    assert len({tuple(c[n] for n in STRUCTURAL) for c in rendered}) == len(rendered)
    valid = set().union(*map(pairs, combos))
    assert set().union(*map(pairs, rendered)) == valid and len(valid) == 297


def test_option_names_are_unique_and_choices_start_with_the_default():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    assert all(o.choices[0] == o.default for o in OPTIONS if o.choices)


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"Run the tests.*?```bash\n.*?(pip install .*?)\n```", readme, re.S)
    assert command, "the README's test command"
    assert command.group(1) in (ROOT / ".ci" / "run").read_text()
