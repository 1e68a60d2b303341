"""Generation as a transaction: render into a staging directory, then move into place.

The staging directory sits beside the target (same filesystem, so the final move is a rename).
A failing hook, an exception or Ctrl-C leaves nothing behind; ``--force`` swaps the old tree out
only once the new one is complete.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from prodml import __version__, layout
from prodml import answers as answers_file
from prodml import base as pristine
from prodml.lock import lock as lock_dependencies
from prodml.options import BY_NAME
from prodml.vendor import PRODML_WHEEL, RUNTIME_WHEEL, VENDOR, WheelMissing, vendor_wheels

#: Staging directories are named ``.prodml-<pid>-<random>`` after the process that writes them.
STAGING_PREFIX = ".prodml-"


class GenerationError(RuntimeError):
    """Generation failed; the message says why and what to do."""


class DataRejected(GenerationError):
    """The ``--data`` file yields no usable schema (a usage error): nothing was written."""


@dataclass(frozen=True)
class Dataset:
    """The user's data file (``prodml new --data``) and the roles given for its columns."""

    path: Path
    target: str
    problem_type: str | None = None
    id_column: str | None = None
    ignore: tuple[str, ...] = field(default=())
    rare_classes: str | None = None

    @property
    def name(self) -> str:
        """Its file name in the project's data/raw/: the user's, each run of characters other
        than letters, digits, ``.``, ``_`` and ``-`` made one ``-`` (Makefiles and shells take
        it as it is), its extension in lower case; ``data`` for ``sample``, the synthetic
        sample's name."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", self.path.stem).strip("-._")
        stem = "data" if stem.lower() in ("", "sample") else stem
        return f"{stem}{self.path.suffix.lower()}"


#: The exit status of a command refusing its input (Click's usage error).
USAGE = 2

#: What the project's inference writes for ``--data``: the path each file goes to in the project.
INFERRED = {"schema.yaml": Path("configs/schema.yaml"), "data-card.md": Path("docs/data-card.md")}


def infer_schema(project: Path, package: str, data: Dataset, into: Path) -> list[str]:
    """Write the schema and data card the rendered project's own inference makes of ``data``
    (``python -m <package> schema infer``, run from its source tree on the runtime wheel it
    vendors, imported from the wheel itself) into ``into``; return the notes it printed (a
    column left out as a leak, stray whitespace read away...)."""
    into = into.resolve()  # the command runs in the project, not here
    command = [sys.executable, "-m", package, "schema", "infer", str(data.path.resolve()),
               "--target", data.target, "--output", str(into / "schema.yaml"),
               "--data-card", str(into / "data-card.md")]  # fmt: skip
    if data.problem_type:
        command += ["--problem-type", data.problem_type]
    if data.id_column:
        command += ["--id", data.id_column]
    for name in data.ignore:
        command += ["--ignore", name]
    if data.rare_classes:
        command += ["--rare-classes", data.rare_classes]
    runtime = vendor_wheels(project)
    path = os.pathsep.join([str(project / "src"), str(runtime)])
    env = {**os.environ, "PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = lines[-1].removeprefix("Error: ") if lines else f"exit status {result.returncode}"
        if result.returncode == USAGE:  # the file fits no schema: the data's problem
            raise DataRejected(f"--data {data.path}: {reason}")
        raise GenerationError(f"inferring a schema from --data {data.path} failed: {reason}")
    return [
        line.removeprefix("note: ")
        for line in result.stderr.splitlines()
        if line.strip() and not line.startswith("wrote ")
    ]


def data_files(project: Path, answers: Mapping[str, str]) -> tuple[pristine.Files, list[str]]:
    """What a ``--data`` project holds that its data made, for a replay to carry over: the
    inferred schema and data card (from its base, else its tree) and data/raw/<file>; and the
    paths of those it lacks. Nothing for the synthetic sample."""
    dataset = answers.get("dataset", BY_NAME["dataset"].default)
    if dataset == BY_NAME["dataset"].default:
        return {}, []
    recorded = pristine.load(project) or {}
    carried: pristine.Files = {}
    missing = []
    for path in (*(p.as_posix() for p in INFERRED.values()), f"data/raw/{dataset}"):
        entry = recorded.get(path) or pristine.read_file(project / path)
        if entry is None:
            missing.append(path)
        else:
            carried[path] = entry
    return carried, missing


def template_dir() -> Path:
    """The cookiecutter template: the source checkout's template/, else the packaged copy."""
    source = Path(__file__).resolve().parents[2] / "template"
    if (source / "cookiecutter.json").is_file():
        return source
    return Path(str(resources.files("prodml"))) / "template"


@functools.cache
def template_commit() -> str | None:
    """The last commit that changed what renders (template/, hooks/, layout and answers code),
    or None: an installed package, no git, or uncommitted changes to those files."""
    root = template_dir().parent
    paths = ["template", "hooks", "generator/prodml/layout.py", "generator/prodml/answers.py"]
    if shutil.which("git") is None or not (root / ".git").exists():
        return None
    git = ["git", "-C", str(root)]
    dirty = subprocess.run([*git, "status", "--porcelain", "--", *paths], capture_output=True)
    head = subprocess.run([*git, "log", "-1", "--format=%H", "--", *paths], capture_output=True)
    if dirty.returncode or dirty.stdout or head.returncode:
        return None
    return head.stdout.decode().strip() or None


@functools.cache
def _compiled(expression: str):
    from cookiecutter.environment import StrictEnvironment

    return StrictEnvironment(context={"cookiecutter": {}}).from_string(expression)


def render_default(expression: str, answers: Mapping[str, str]) -> str:
    """Render an option's default the way cookiecutter renders cookiecutter.json."""
    return _compiled(expression).render(cookiecutter=answers)


@contextlib.contextmanager
def _importable(path: Path) -> Iterator[None]:
    """Let cookiecutter import the template's local Jinja extensions, as its own CLI does."""
    sys.path.insert(0, str(path))
    try:
        yield
    finally:
        sys.path.remove(str(path))


def render(answers: Mapping[str, str], parent: Path) -> Path:
    """Render the template into ``parent`` and keep the files the answers ask for; return the
    project directory.

    The template's hooks are for plain cookiecutter: prodml runs what they run (``layout``,
    ``answers_file``) in this process, so no hook script is written to the temporary folder
    and a signal stops one process, not a hook running on in the background."""
    from cookiecutter.exceptions import CookiecutterException
    from cookiecutter.generate import generate_files
    from jinja2 import TemplateError

    template = template_dir()
    private = json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))
    context = {k: v for k, v in private.items() if k.startswith("_")}
    context.update(answers, _template="prodml", _template_version=__version__)
    context.update(_commit=template_commit(), _repo_dir=str(template), _output_dir=str(parent))
    # cookiecutter logs a traceback for a failing hook; the GenerationError below says it once.
    logging.getLogger("cookiecutter").setLevel(logging.CRITICAL)
    try:
        with _importable(template):
            project = Path(
                generate_files(
                    repo_dir=template,
                    context={"cookiecutter": context},
                    output_dir=parent,
                    accept_hooks=False,
                )
            )
    except (CookiecutterException, TemplateError) as err:
        raise GenerationError(f"rendering the template failed: {err}") from err
    layout.arrange(project, context)
    answers_file.write(project, context)
    return project


def _git(project: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=project, check=True, capture_output=True, text=True)


def init_git(project: Path, answers: Mapping[str, str]) -> str | None:
    """``git init`` and an initial commit; returns a warning instead of failing generation."""
    if shutil.which("git") is None:
        return "git not found: the project was created without a repository"
    identity = subprocess.run(
        ["git", "config", "user.email"], cwd=project, capture_output=True, text=True
    ).stdout.strip()
    author = " ".join(answers["author_name"].split()) or "prodml"
    fallback = (
        []
        if identity
        else ["-c", f"user.name={author}", "-c", f"user.email={answers['author_email']}"]
    )
    try:
        _git(project, "init", "-q")
        _git(project, "add", "-A")
        _git(project, *fallback, "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
             "-m", f"Initial commit from prodml {__version__}")  # fmt: skip
    except subprocess.CalledProcessError as err:
        shutil.rmtree(project / ".git", ignore_errors=True)
        reason = err.stderr.strip() or err
        return f"git failed ({reason}): the project was created without a repository"
    return None


def _writer_gone(staging: Path) -> bool:
    """Whether the process that named ``staging`` (``.prodml-<pid>-...``) has ended."""
    pid = staging.name.removeprefix(STAGING_PREFIX).partition("-")[0]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):  # another user's process, or not a pid
        return False
    return False


def remove_abandoned_staging(output_dir: Path) -> None:
    """Delete the staging directories in ``output_dir`` whose ``prodml new`` was killed."""
    for staging in output_dir.glob(f"{STAGING_PREFIX}*"):
        if staging.is_dir() and not staging.is_symlink() and _writer_gone(staging):
            shutil.rmtree(staging, ignore_errors=True)


def _replace(project: Path, target: Path, staging: Path) -> None:
    """Move ``project`` to ``target``; an existing target is swapped out, restored on failure."""
    if not (target.exists() or target.is_symlink()):
        os.rename(project, target)
        return
    previous = staging / "previous"
    os.rename(target, previous)
    try:
        os.rename(project, target)
    except BaseException:
        os.rename(previous, target)
        raise


def _first_missing(path: Path) -> Path | None:
    """The outermost directory of ``path`` that does not exist yet (what mkdir -p would create)."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            return missing
        missing = candidate
    return missing


def create(
    answers: Mapping[str, str],
    output_dir: Path,
    *,
    force: bool = False,
    git: bool = True,
    lock: bool = False,
    data: Dataset | None = None,
    carried: pristine.Files | None = None,
) -> tuple[Path, list[str]]:
    """Generate the project into ``output_dir``; return its path and any warnings.

    With ``data`` the project is built on the user's file: its schema inferred, the file copied
    to ``data/raw/``, and the problem type the inference found used for the whole render.
    ``carried`` files are written over the render (a replay's ``data_files``). The result is
    recorded as the project's base (``prodml update`` merges from it) before anything else runs.

    ``lock`` resolves the project's dependencies into its lock file (``make lock``) before the
    initial commit; it needs the package index, and degrades to a warning without it.
    """
    target = output_dir / answers["project_slug"]
    if (target.exists() or target.is_symlink()) and not force:
        raise GenerationError(
            f"{target} already exists: pass --force to replace it, or choose another name "
            "or --output-dir"
        )
    created = _first_missing(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        remove_abandoned_staging(output_dir)
        staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=output_dir))
    except OSError as err:
        raise GenerationError(
            f"cannot write to output directory {output_dir}: {err.strerror or err}; "
            "choose a writable --output-dir"
        ) from err
    warnings: list[str] = []
    succeeded = False
    try:
        project = render(answers, staging)
        if data is not None:
            project, notes = _adopt(project, answers, data, staging)
            warnings += notes
        vendor_wheels(project)
        for name, (content, mode) in (carried or {}).items():
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            (project / name).write_bytes(content)
            (project / name).chmod(mode)
        pristine.save(project, pristine.snapshot(project))
        if lock and (warning := lock_dependencies(project)):
            warnings.append(warning)
        if git and (warning := init_git(project, answers)):
            warnings.append(warning)
        _replace(project, target, staging)
        succeeded = True
    except OSError as err:
        raise GenerationError(f"writing {target} failed: {err}") from err
    except WheelMissing as err:
        raise GenerationError(str(err)) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if created is not None and not succeeded:
            shutil.rmtree(created, ignore_errors=True)
    return target, warnings


def _adopt(
    project: Path, answers: Mapping[str, str], data: Dataset, staging: Path
) -> tuple[Path, list[str]]:
    """Put ``data`` into the rendered ``project``: the inferred schema and data card, and the
    file itself; return the project and the inference's notes. A problem type other than the
    answers' re-renders with the inferred one."""
    import yaml

    inferred = staging / "inferred"
    inferred.mkdir()
    notes = infer_schema(project, answers["package_name"], data, inferred)
    schema = yaml.safe_load((inferred / "schema.yaml").read_text(encoding="utf-8"))
    if schema["problem_type"] != answers["problem_type"]:
        shutil.rmtree(project)
        project = render({**answers, "problem_type": schema["problem_type"]}, staging)
    for name, destination in INFERRED.items():
        shutil.copyfile(inferred / name, project / destination)
    raw = project / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(data.path, raw / data.name)
    return project, notes


def preview(answers: Mapping[str, str]) -> list[str]:
    """The relative paths generation would write, rendered in a throwaway directory."""
    with tempfile.TemporaryDirectory(prefix="prodml-dry-run-") as scratch:
        project = render(answers, Path(scratch))
        paths = {
            str(path.relative_to(project)) + ("/" if path.is_dir() else "")
            for path in project.rglob("*")
        }
    vendored = [f"{VENDOR}/", *(f"{VENDOR}/{name}" for name in (RUNTIME_WHEEL, PRODML_WHEEL))]
    return sorted(paths | set(vendored))
