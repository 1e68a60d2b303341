"""The option schema: the one source of truth for every question prodml asks.

Prompts, ``--no-input``, ``--set``/``--config``, ``prodml options``, the README's option table,
``template/cookiecutter.json`` and the pre-generation hook all read ``OPTIONS``. Adding an option
is one entry here (plus the template files that use it).

This module uses the standard library only: the cookiecutter hooks import it even where only
cookiecutter is installed.
"""

from __future__ import annotations

import difflib
import json
import keyword
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from prodml import __version__

#: Import names a generated package must not shadow: its own dependencies and tools.
RESERVED_PACKAGE_NAMES = frozenset(
    {
        "click", "cookiecutter", "fastapi", "flask", "gevent", "httpx", "jinja2", "joblib",
        "mlflow", "numpy", "pandas", "prodml", "pydantic", "pytest", "requests", "ruff", "scipy",
        "sklearn", "starlette", "test", "tests", "uvicorn", "yaml",
    }
)  # fmt: skip

_SLUG = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
_PACKAGE = re.compile(r"[a-z][a-z0-9_]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
_YEAR = re.compile(r"(19|20|21)\d\d")


def _control_chars(value: str, allowed: str = "") -> list[str]:
    return [c for c in value if (ord(c) < 32 or ord(c) == 127) and c not in allowed]


def _check_project_name(value: str) -> str | None:
    if not value.strip():
        return "a non-empty name, e.g. 'Churn Model'"
    if _control_chars(value) or len(value) > 100:
        return "one line of at most 100 printable characters"
    return None


def _check_slug(value: str) -> str | None:
    if not _SLUG.fullmatch(value):
        return (
            "lowercase letters, digits and single '-' or '_' between them, starting with a letter"
        )
    return None


def _check_package(value: str) -> str | None:
    if not _PACKAGE.fullmatch(value):
        return "a lowercase Python identifier: letters, digits and '_', starting with a letter"
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return "a name that is not a Python keyword"
    if value in sys.stdlib_module_names:
        return f"a name that does not shadow the standard library module {value!r}"
    if value in RESERVED_PACKAGE_NAMES:
        return f"a name that does not shadow the dependency or tool {value!r}"
    return None


def _check_free_text(value: str) -> str | None:
    if _control_chars(value, allowed="\n\t") or len(value) > 1000:
        return "at most 1000 characters and no control characters (newlines and tabs are fine)"
    return None


def _check_email(value: str) -> str | None:
    return None if _EMAIL.fullmatch(value) else "an address like 'you@example.com'"


#: The data files a project reads (``--data``, the ``dataset`` answer).
DATA_SUFFIXES = (".csv", ".parquet")
_DATASET = re.compile(
    rf"[A-Za-z0-9][A-Za-z0-9._-]*\.({'|'.join(suffix[1:] for suffix in DATA_SUFFIXES)})"
)


def _check_dataset(value: str) -> str | None:
    if not _DATASET.fullmatch(value):
        return "a file name in data/raw/ ending in .csv or .parquet, such as customers.csv"
    return None


def _check_year(value: str) -> str | None:
    return None if _YEAR.fullmatch(value) else "a four-digit year such as 2026"


@dataclass(frozen=True)
class Option:
    """One question.

    ``default`` is a literal or, as in cookiecutter.json, a Jinja expression over earlier
    answers (``{{ cookiecutter.project_name | slugify }}``). ``choices`` start with the default.
    ``when`` tells whether the option applies to the answers so far; where it does not, its
    value is ``otherwise`` and it is not asked.
    """

    name: str
    help: str
    default: str
    choices: tuple[str, ...] = ()
    check: Callable[[str], str | None] | None = None
    when: Callable[[Mapping[str, str]], bool] | None = None
    when_text: str = ""
    otherwise: str = ""

    def applies(self, answers: Mapping[str, str]) -> bool:
        return self.when is None or self.when(answers)

    def problem(self, value: str) -> str | None:
        """What would be valid, if ``value`` is not."""
        if self.choices and value not in self.choices:
            return "one of " + ", ".join(self.choices)
        return self.check(value) if self.check else None

    @property
    def kind(self) -> str:
        return "choice" if self.choices else "text"


OPTIONS: tuple[Option, ...] = (
    Option(
        "project_name", "Human-readable project name.", "Churn Model", check=_check_project_name
    ),
    Option(
        "project_slug",
        "Repository and distribution name (derived from project_name).",
        "{{ cookiecutter.project_name | slugify }}",
        check=_check_slug,
    ),
    Option(
        "package_name",
        "Python import name (derived from project_slug).",
        "{{ cookiecutter.project_slug | replace('-', '_') }}",
        check=_check_package,
    ),
    Option(
        "description",
        "One-paragraph description: the decision the model supports.",
        "Predict which customers will churn next month so retention can act first.",
        check=_check_free_text,
    ),
    Option("author_name", "Author or team name.", "ML Team", check=_check_free_text),
    Option("author_email", "Contact email.", "ml-team@example.com", check=_check_email),
    Option(
        "license",
        "License of the generated project.",
        "MIT",
        choices=("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"),
    ),
    Option("year", "Copyright year.", "{% now 'utc', '%Y' %}", check=_check_year),
    Option(
        "python_version",
        "Minimum Python version; CI and the Docker image use it.",
        "3.11",
        choices=("3.11", "3.10", "3.12", "3.13"),
    ),
    Option(
        "problem_type",
        "What the model predicts; picks the sample dataset, metrics and baseline.",
        "binary_classification",
        choices=("binary_classification", "multiclass_classification", "regression"),
    ),
    Option(
        "dataset",
        "Training data file in data/raw/: sample.csv is the synthetic demo (make data); "
        "prodml new --data FILE sets it.",
        "sample.csv",
        check=_check_dataset,
    ),
    Option(
        "serving",
        "HTTP framework for the prediction API; none means batch prediction only.",
        "fastapi",
        choices=("fastapi", "flask", "none"),
    ),
    Option(
        "ci",
        "Continuous-integration provider.",
        "github",
        choices=("github", "gitlab", "none"),
    ),
    Option(
        "env_manager",
        "Tool the project's quickstart, Makefile and CI install with.",
        "uv",
        choices=("uv", "pip"),
    ),
    Option(
        "tracking",
        "Where training runs are recorded: a local runs/ store, or MLflow (sqlite, works "
        "offline), whose Model Registry then mirrors the models with `champion`/`challenger` "
        "aliases.",
        "local",
        choices=("local", "mlflow"),
    ),
    Option(
        "engine",
        "Batch scoring engine: local (one process, chunked), dask (also `predict --engine dask`, "
        "on a LocalCluster or a --scheduler) or spark (also `predict --engine spark`, in local "
        "mode or on a --master; needs Java 17+).",
        "local",
        choices=("local", "dask", "spark"),
    ),
    Option(
        "docker",
        "Ship a Dockerfile for the API.",
        "yes",
        choices=("yes", "no"),
        when=lambda answers: answers.get("serving") != "none",
        when_text="serving is not none",
        otherwise="no",
    ),
)

BY_NAME: dict[str, Option] = {option.name: option for option in OPTIONS}


class AnswerError(ValueError):
    """One or more answers are invalid; ``problems`` holds one sentence each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def problem_with(option: Option, value: str, answers: Mapping[str, str]) -> str | None:
    """A sentence naming the field, the value and what would be valid, or None if it is fine."""
    if not option.applies(answers):
        if value == option.otherwise:
            return None
        return (
            f"{option.name}={value!r} does not apply unless {option.when_text}; "
            f"leave it out or use {option.otherwise!r}"
        )
    valid = option.problem(value)
    return None if valid is None else f"{option.name}={value!r} is not valid: use {valid}"


def validate(answers: Mapping[str, str]) -> None:
    """Check a complete set of answers; raise AnswerError listing every problem."""
    problems = [f"missing answer for {o.name}" for o in OPTIONS if o.name not in answers]
    problems += [
        problem
        for option in OPTIONS
        if option.name in answers
        and (problem := problem_with(option, str(answers[option.name]), answers))
    ]
    if problems:
        raise AnswerError(problems)


def unknown_keys(given: Mapping[str, object]) -> list[str]:
    """Problems for keys that name no option, with the closest option name if there is one."""
    problems = []
    for key in given:
        if key not in BY_NAME:
            close = difflib.get_close_matches(str(key), BY_NAME, n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see `prodml options`"
            problems.append(f"unknown option {key!r}: {hint}")
    return problems


def resolve(
    fixed: Mapping[str, str],
    defaults: Mapping[str, str],
    render_default: Callable[[str, Mapping[str, str]], str],
    ask: Callable[[Option, str, Mapping[str, str]], str] | None = None,
) -> dict[str, str]:
    """Answer every option in order.

    A ``fixed`` value is taken as it is; otherwise ``ask`` is called (interactive) with the
    default from ``defaults`` or the schema (``render_default`` renders an expression against the
    answers so far); without ``ask`` the default is the answer. An option that does not apply
    takes its ``otherwise`` value. Raises AnswerError listing every problem.
    """
    problems = unknown_keys(fixed) + unknown_keys(defaults)
    answers: dict[str, str] = {}
    for option in OPTIONS:
        if option.name in fixed:
            value = str(fixed[option.name])
        elif not option.applies(answers):
            value = option.otherwise
        else:
            value = defaults.get(option.name) or render_default(option.default, answers)
            if ask is not None:
                value = ask(option, value, answers)
        answers[option.name] = value
        if problem := problem_with(option, value, answers):
            problems.append(problem)
    if problems:
        raise AnswerError(problems)
    return answers


def cookiecutter_json() -> dict[str, object]:
    """The content of template/cookiecutter.json, derived from OPTIONS."""
    context: dict[str, object] = {
        o.name: list(o.choices) if o.choices else o.default for o in OPTIONS
    }
    context["__prompts__"] = {o.name: o.help for o in OPTIONS}
    context["_template_version"] = __version__
    context["_extensions"] = ["local_extensions.TomlExtension"]
    return context


def markdown_table() -> str:
    """The option table for the README and ``prodml options --markdown``."""
    rows = ["| option | choices / default | applies when | what it is |", "|---|---|---|---|"]
    for o in OPTIONS:
        values = " / ".join(f"`{c}`" for c in o.choices) if o.choices else f"`{o.default}`"
        values = values.replace("|", "\\|")
        rows.append(f"| `{o.name}` | {values} | {o.when_text or 'always'} | {o.help} |")
    return "\n".join(rows)


def main(argv: list[str]) -> int:
    """``python -m prodml.options [--write]`` from the repository root: check (or rewrite)
    template/cookiecutter.json against OPTIONS."""
    path = Path("template") / "cookiecutter.json"
    expected = json.dumps(cookiecutter_json(), indent=2) + "\n"
    if "--write" in argv:
        path.write_text(expected, encoding="utf-8")
        return 0
    if path.read_text(encoding="utf-8") != expected:
        print(f"{path} differs from prodml.options: run `python -m prodml.options --write`")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
