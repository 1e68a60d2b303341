"""The ``prodml`` command line: a thin Click layer over the option schema and cookiecutter.

Heavy modules (cookiecutter, yaml) are imported inside the commands that need them, so
``prodml --help`` and shell completion stay fast.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import click

from prodml import __version__
from prodml.options import (
    BY_NAME,
    DATA_SUFFIXES,
    OPTIONS,
    AnswerError,
    Option,
    markdown_table,
    problem_with,
    resolve,
)


class AnswersRejected(click.ClickException):
    """Invalid answers: a usage error, so exit status 2, and nothing is written."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        super().__init__(
            "invalid answers, nothing was written:\n" + "\n".join(f"  - {p}" for p in problems)
        )


class DataRefused(click.ClickException):
    """The ``--data`` file fits no schema (exit status 2, nothing written): a data problem, so
    it is said without the usage banner, which would point at the command line."""

    exit_code = 2


class UpdateRefused(click.ClickException):
    """``prodml update`` cannot run as asked (exit status 2); nothing was written."""

    exit_code = 2


def _complete_set(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Complete ``--set`` as KEY= first, then the choices of KEY."""
    key, sep, value = incomplete.partition("=")
    if not sep:
        return [f"{name}=" for name in BY_NAME if name.startswith(key)]
    choices = BY_NAME[key].choices if key in BY_NAME else ()
    return [f"{key}={choice}" for choice in choices if choice.startswith(value)]


def _parse_settings(settings: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--set")
        parsed[key.strip()] = value
    return parsed


def _read_config(path: Path) -> dict[str, str]:
    """A team's conventions file (prodml.team): answers, a usage error when it cannot be read."""
    from prodml import team

    try:
        return team.read(path)
    except ValueError as err:
        raise AnswersRejected([str(err)]) from None


def _ask(option: Option, default: str, answers: Mapping[str, str]) -> str:
    def check(value: str) -> str:
        if problem := problem_with(option, value, answers):
            raise click.UsageError(problem)
        return value

    click.secho(f"\n{option.help}", dim=True, err=True)
    label = option.name + (f" ({' | '.join(option.choices)})" if option.choices else "")
    return click.prompt(label, default=default, value_proc=check, err=True)


def _ask_target(path: Path, no_input: bool) -> str:
    """The target column, chosen from the file's columns (a usage error with --no-input)."""
    columns = _columns(path)
    if no_input:
        raise click.UsageError(f"--data needs --target: one of {', '.join(columns)}")
    return click.prompt(
        "\nThe column to predict (target)", type=click.Choice(columns), show_choices=True, err=True
    )


def _columns(path: Path) -> list[str]:
    """The column names of a Parquet file, else of a CSV (its header: UTF-8, else Windows'
    cp1252; cells split at the separator that splits it best); a usage error if unreadable."""
    import csv

    try:
        if path.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            return list(pq.ParquetFile(path).schema_arrow.names)
        with path.open("rb") as file:
            line = file.readline()
        try:
            header = line.decode("utf-8-sig")
        except UnicodeDecodeError:
            header = line.decode("cp1252", errors="replace")
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(header, ",;\t|")
        except csv.Error:  # one column: nothing to split at
            dialect = csv.excel
        return next(csv.reader([header], dialect), [])
    except (OSError, csv.Error, ValueError) as err:
        raise click.UsageError(f"--data {path}: cannot read its columns ({err})") from None


class Terminated(SystemExit):
    """SIGTERM, raised in the main thread so that generation cleans up as it does on Ctrl-C."""


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """Turn SIGTERM into an exception (exit status 143) while the project is being written."""

    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not stop cleanup
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_tree(paths: list[str], root: str) -> None:
    click.echo(f"{root}/")
    for path in paths:
        parts = path.rstrip("/").split("/")
        click.echo("    " * len(parts) + parts[-1] + ("/" if path.endswith("/") else ""))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prodml")
def main() -> None:
    """Generate production-shaped tabular ML repositories.

    Shell completion: eval "$(_PRODML_COMPLETE=bash_source prodml)" (zsh_source, fish_source).
    """


@main.command()
@click.argument("name", required=False)
@click.option("--no-input", is_flag=True, help="Ask nothing: use given values, then defaults.")
@click.option(
    "--set", "settings", multiple=True, metavar="KEY=VALUE", shell_complete=_complete_set,
    help="Answer an option (repeatable); not asked again.",
)  # fmt: skip
@click.option(
    "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML file of answers used as defaults: a team's conventions.",
)  # fmt: skip
@click.option(
    "-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
    show_default=True, help="Directory to create the project in.",
)  # fmt: skip
@click.option("--force", is_flag=True, help="Replace an existing project directory.")
@click.option(
    "--dry-run", is_flag=True, help="Print the tree that would be written; write nothing."
)
@click.option("--git/--no-git", default=True, show_default=True, help="git init and commit.")
@click.option(
    "--lock/--no-lock", default=True, show_default=True,
    help="Lock the dependencies (make lock: needs the package index; a warning without it).",
)  # fmt: skip
@click.option(
    "--replay", type=click.Path(exists=True, path_type=Path),
    help="Regenerate from a project's recorded answers (.cruft.json).",
)  # fmt: skip
@click.option(
    "--data", "data_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Build on this CSV or Parquet file: schema inferred, file copied to data/raw/.",
)  # fmt: skip
@click.option("--target", help="With --data: the column to predict (asked if not given).")
@click.option(
    "--problem-type", type=click.Choice(BY_NAME["problem_type"].choices),
    help="With --data: override the inferred problem type.",
)  # fmt: skip
@click.option("--id", "id_column", help="With --data: the id column [default: inferred].")
@click.option("--ignore", multiple=True, help="With --data: a column the model must not use.")
@click.option(
    "--rare-classes", type=click.Choice(["drop", "merge"]),
    help="With --data: classes too rare for cross-validation are dropped, or merged into one.",
)  # fmt: skip
def new(
    name: str | None,
    no_input: bool,
    settings: tuple[str, ...],
    config: Path | None,
    output_dir: Path,
    force: bool,
    dry_run: bool,
    git: bool,
    lock: bool,
    replay: Path | None,
    data_path: Path | None,
    target: str | None,
    problem_type: str | None,
    id_column: str | None,
    ignore: tuple[str, ...],
    rare_classes: str | None,
) -> None:
    """Create a new ML project called NAME (the project_name answer).

    With --data FILE --target COL the project is built on that file: the schema is inferred
    (each column's choice explained in configs/schema.yaml) and training, the API, monitoring
    and the project's tests run on it from the first commit.
    """
    from prodml import answers as answers_file
    from prodml import generate

    fixed = _parse_settings(settings)
    dataset = None
    if data_path is None and (target or problem_type or id_column or ignore or rare_classes):
        raise click.UsageError(
            "--target, --problem-type, --id, --ignore and --rare-classes go with --data"
        )
    if data_path is not None:
        if replay is not None:
            raise click.UsageError("--replay takes every answer from the file: drop --data")
        if data_path.suffix.lower() not in DATA_SUFFIXES:
            raise DataRefused(
                f"--data {data_path}: prodml reads .csv and .parquet files; a text export under "
                f"another name (.tsv, .txt) reads as CSV renamed, e.g. to {data_path.stem}.csv "
                "(its separator is detected)"
            )
        target = target or _ask_target(data_path, no_input)
        problem_type = problem_type or fixed.get("problem_type")
        dataset = generate.Dataset(data_path, target, problem_type, id_column, ignore, rare_classes)
        fixed["dataset"] = dataset.name
        # A placeholder until the data says: generation renders with the inferred type.
        fixed.setdefault("problem_type", problem_type or BY_NAME["problem_type"].default)
    defaults: dict[str, str] = {}
    carried = None
    if replay is not None:
        if name or settings or config:
            raise click.UsageError(
                "--replay takes every answer from the file: drop NAME, --set and --config"
            )
        try:
            fixed, version = answers_file.read(replay)
            source = replay if replay.is_dir() else replay.parent
            carried, missing = generate.data_files(source, fixed)
        except ValueError as err:
            raise AnswersRejected([str(err)]) from None
        for path in missing:
            click.echo(f"note: {source / path} not found: the replay lacks it", err=True)
        if version != __version__:
            click.echo(
                f"note: answers recorded with template {version}, rendering with {__version__}",
                err=True,
            )
        no_input = True
    else:
        if config is not None:
            defaults = _read_config(config)
        if dataset is not None:
            defaults.setdefault("description", f"Predict {target} from {dataset.name}.")
        if name is not None:
            fixed.setdefault("project_name", name)
    try:
        chosen = resolve(fixed, defaults, generate.render_default, None if no_input else _ask)
    except AnswerError as err:
        raise AnswersRejected(err.problems) from None

    with _terminate_cleanly():
        try:
            if dry_run:
                _print_tree(generate.preview(chosen), str(output_dir / chosen["project_slug"]))
                click.echo("dry run: nothing was written", err=True)
                return
            project, warnings = generate.create(
                chosen, output_dir, force=force, git=git, lock=lock, data=dataset, carried=carried
            )
        except generate.DataRejected as err:
            raise DataRefused(str(err)) from None
        except generate.GenerationError as err:
            raise click.ClickException(str(err)) from None
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"Created {project}")
    click.echo(f"Next: cd {project} and follow the Quickstart in README.md")


@main.command()
@click.argument(
    "path", default=Path("."), type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--to",
    metavar="VERSION",
    help=f"Template version to move to: only {__version__}, this prodml's.",
)
@click.option(
    "--set", "settings", multiple=True, metavar="KEY=VALUE", shell_complete=_complete_set,
    help="Change a recorded answer (repeatable): adds or removes the files that option owns.",
)  # fmt: skip
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
def update(path: Path, to: str | None, settings: tuple[str, ...], dry_run: bool) -> None:
    """Merge the installed template into the project at PATH (default: here), keeping your changes.

    A three-way merge per file: the template's changes since the render recorded in
    .prodml/base.tar.gz meet your edits; where both changed the same lines the file gets conflict
    markers (and, in git, is unmerged in git status). Refuses uncommitted changes. Files you
    deleted stay deleted; git init, locking and --data inference are not repeated.

    \b
    Exit status: 0 updated or nothing to do; 3 conflicts to resolve;
    2 refused (usage, uncommitted changes, unavailable version); 1 failure.
    """
    from prodml import generate
    from prodml import update as updating

    changes = _parse_settings(settings)
    with _terminate_cleanly():
        try:
            if updating.pending(path):
                if dry_run:
                    raise updating.Refused("an interrupted update is pending: run prodml update")
                report, notes = updating.finish(path), ["finished an interrupted update"]
            else:
                plan = updating.prepare(path, to, changes)
                report, notes = plan.report, plan.notes
                if plan.changes_nothing:
                    click.echo(f"{path}: up to date with template {__version__}; nothing to do")
                    return
                if not dry_run:
                    updating.apply(path, plan)
        except updating.Refused as err:
            raise UpdateRefused(str(err)) from None
        except generate.GenerationError as err:
            raise click.ClickException(str(err)) from None
        except (OSError, subprocess.CalledProcessError) as err:
            raise click.ClickException(f"update failed: {err}; rerun to finish it") from None
    for note in notes:
        click.echo(f"note: {note}", err=True)
    lines = updating.summary(report)
    verb = "would change" if dry_run else "updated"
    click.echo(f"{path}: {verb} to template {__version__}" + (":" if lines else ""))
    click.echo("\n".join(lines) if lines else "  (only the recorded base changes)")
    if dry_run:
        click.echo("dry run: nothing was written", err=True)
        return
    if report["conflicted"]:
        click.echo(
            "Resolve the conflicts (edit out the markers; keep or `git rm` a file prodml no "
            "longer ships), then commit.",
            err=True,
        )
        raise SystemExit(3)
    click.echo("Review (git diff --cached in a repository) and commit.")


@main.command()
@click.option(
    "--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
    show_default=True, help="markdown is the README's option table.",
)  # fmt: skip
def options(fmt: str) -> None:
    """List every question: type, choices, default, help and when it applies."""
    if fmt == "markdown":
        click.echo(markdown_table())
        return
    if fmt == "json":
        rows = [
            {"name": o.name, "type": o.kind, "choices": list(o.choices), "default": o.default,
             "help": o.help, "applies_when": o.when_text or "always"}
            for o in OPTIONS
        ]  # fmt: skip
        click.echo(json.dumps(rows, indent=2))
        return
    for o in OPTIONS:
        click.secho(o.name, bold=True)
        click.echo(f"  {o.help}")
        click.echo(
            f"  type: {o.kind}" + (f"; choices: {', '.join(o.choices)}" if o.choices else "")
        )
        click.echo(f"  default: {o.default}")
        if o.when_text:
            click.echo(f"  applies when: {o.when_text} (otherwise {o.otherwise!r})")


@main.command()
@click.argument(
    "path", default=Path("."), type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@click.option(
    "--format", "fmt", type=click.Choice(["rich", "json", "html"]), default="rich",
    show_default=True, help="repo-review's output formats.",
)  # fmt: skip
@click.option(
    "--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A team's conventions (the YAML prodml new --config takes): required answers.",
)  # fmt: skip
@click.option("--select", multiple=True, metavar="CODE", help="Run only these (repeatable).")
@click.option("--ignore", multiple=True, metavar="CODE", help="Leave these out (repeatable).")
@click.option("--list-codes", is_flag=True, help="Print the table of codes (Markdown) and exit.")
def check(
    path: Path, fmt: str, config: Path | None, select: tuple[str, ...], ignore: tuple[str, ...],
    list_codes: bool,
) -> None:  # fmt: skip
    """Check the repository at PATH (default: here) against prodml's conventions.

    \b
    Exit status: 0 passed (skipped checks say why); 3 a check failed; 2 usage error.
    Ignore a check for good in pyproject.toml: [tool.prodml.check] ignore = {CODE = "why"}.
    """
    from prodml.check import markdown_table
    from prodml.check.run import FAILED, CheckError, render, run

    if list_codes:
        click.echo(markdown_table())
        return
    team = _read_config(config) if config is not None else None
    try:
        families, results, state = run(path, team, str(config or ""), select, ignore)
    except CheckError as err:
        raise click.ClickException(str(err)) from None
    if (text := render(families, results, state, fmt)) is not None:
        click.echo(text)
    if state == "errors":
        raise SystemExit(FAILED)
