"""``prodml update``: re-render a project at the installed template and merge it into the tree.

A three-way merge per file (``git merge-file``): the base is the pristine render the project was
last generated or updated with (``.prodml/base.tar.gz``), ours is the project as it is, theirs
the render of its recorded answers (changed by ``--set``). Only the render runs again: git init,
the initial commit, locking and ``--data`` inference never repeat, and a ``--data`` project's
inferred schema and data card stay its own.

A file the template no longer ships is removed if the user never changed it; if they did, it is
a conflict (git's modify/delete: unmerged, the user's version in the work tree). The wheels in
``vendor/`` become the installed prodml's (``prodml.vendor``), unless the project takes the
runtime from an index. So a project made by the previous prodml, which carried the platform as
its own source, loses the platform files its team never changed and keeps, as conflicts, those
it did.

Writes go through a journal: the new files are staged under ``.prodml/update/`` and the plan is
written last; then each file is renamed into place, the base replaced after them. A run killed
midway leaves every file old or new, and the next ``prodml update`` finishes the plan.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from prodml import __version__, generate, vendor
from prodml import answers as answers_file
from prodml import base as pristine
from prodml.options import BY_NAME, OPTIONS, AnswerError, resolve

JOURNAL = Path(".prodml/update")
#: Options an update does not change: a new name would move every file (rename by hand).
RENAMES = ("project_slug", "package_name")
KINDS = ("updated", "merged", "added", "vendored", "removed", "conflicted", "kept", "kept deleted")
#: What a project installing prodml's wheels from vendor/ has in these files (uv; pip).
FROM_VENDOR = {"pyproject.toml": b"vendor/prodml", "Makefile": b"--find-links vendor"}
#: The report's list of the conflicts whose file the template dropped (modify/delete).
DROPPED = "dropped"
EXPLAINED = {
    "merged": "the template's change merged with yours",
    "vendored": f"prodml {__version__}'s wheel, which the project installs: run `make lock`",
    "conflicted": "both changed the same lines: resolve the markers",
    DROPPED: f"you changed it; prodml {__version__} no longer ships it: keep it, or `git rm` it",
    "kept": "not a regular file any more: left as it is",
    "kept deleted": "you deleted it; the template changed it",
}


class Refused(Exception):
    """The update cannot run as asked; the message says why and what to do. Nothing written."""


@dataclass
class Plan:
    """What an update writes, removes and reports, and the base it records."""

    base: pristine.Files
    base_changed: bool
    writes: pristine.Files = field(default_factory=dict)
    removes: list[str] = field(default_factory=list)
    report: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in (*KINDS, DROPPED)})
    #: For each conflict, the base's (stage 1) and the template's (stage 3) version.
    stages: dict[str, dict[int, tuple[bytes, int] | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def changes_nothing(self) -> bool:
        return not (self.writes or self.removes or self.base_changed)


def _run(
    project: Path, *args: str, stdin: str | None = None, check: bool = False
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *args], cwd=project, input=stdin, capture_output=True, text=True, check=check
    )


def _lines(items: Iterable[str]) -> str:
    return "".join(f"{item}\n" for item in items)


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return None


def _answers(recorded: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """The recorded answers changed by ``settings``, validated as ``prodml new`` validates them.

    A recorded answer of an option that no longer applies is dropped (it takes its ``otherwise``).
    """
    if renamed := [key for key in settings if key in RENAMES]:
        raise Refused(f"--set {renamed[0]}: an update keeps the project's name; rename it by hand")
    fixed: dict[str, str] = {}
    for option in OPTIONS:
        if option.name in settings:
            fixed[option.name] = settings[option.name]
        elif option.name in recorded and option.applies(fixed):
            fixed[option.name] = recorded[option.name]
    fixed.update((key, value) for key, value in settings.items() if key not in BY_NAME)
    try:
        return resolve(fixed, {}, generate.render_default)
    except AnswerError as err:
        raise Refused("invalid answers:\n" + "\n".join(f"  - {p}" for p in err.problems)) from None


def _render(answers: Mapping[str, str]) -> pristine.Files:
    with tempfile.TemporaryDirectory(prefix="prodml-update-") as scratch:
        return pristine.snapshot(generate.render(answers, Path(scratch)))


def _data_derived(answers: Mapping[str, str]) -> list[str]:
    """A ``--data`` project's inferred schema and data card: the data's, never the template's."""
    if answers["dataset"] == BY_NAME["dataset"].default:
        return []
    return [path.as_posix() for path in generate.INFERRED.values()]


def _in_git(project: Path) -> bool:
    return _run(project, "rev-parse", "--is-inside-work-tree").stdout.strip() == "true"


def _dirty(project: Path) -> list[str]:
    # --no-optional-locks: a plain status refreshes the index, and a dry run writes nothing.
    status = _run(project, "--no-optional-locks", "status", "--porcelain", "--", ".",
                  f":(exclude){JOURNAL}")  # fmt: skip
    return status.stdout.splitlines()


def _merge(path: str, ours: tuple[bytes, int], base: tuple[bytes, int] | None,
           new: tuple[bytes, int], plan: Plan, scratch: Path) -> None:  # fmt: skip
    """Three-way merge of one file's content into ``plan`` (``git merge-file``)."""
    sides = []
    for name, entry in (("ours", ours), ("base", base), ("new", new)):
        sides.append(scratch / name)
        sides[-1].write_bytes(entry[0] if entry else b"")
    labels = ["-L", "your project", "-L", "prodml base", "-L", f"prodml {__version__}"]
    merged = subprocess.run(["git", "merge-file", "-p", *labels, *map(str, sides)],
                            capture_output=True)  # fmt: skip
    mode = new[1] if base is None or ours[1] == base[1] else ours[1]
    if merged.returncode == 0:
        plan.writes[path] = (merged.stdout, mode)
        plan.report["merged"].append(path)
        return
    if 0 < merged.returncode < 128:  # that many conflicts, marked
        plan.writes[path] = (merged.stdout, mode)
    else:  # a binary file or an error: yours stays, the template's is in stage 3
        plan.notes.append(f"{path}: cannot merge ({merged.stderr.decode().strip()}); yours kept")
    plan.report["conflicted"].append(path)
    plan.stages[path] = {1: base, 3: new}


def plan_merge(project: Path, base: pristine.Files, new: pristine.Files) -> Plan:
    """Classify every path of the base and the new render against the project."""
    plan = Plan(base=new, base_changed=base != new)
    with tempfile.TemporaryDirectory(prefix="prodml-merge-") as scratch:
        for path in sorted(base.keys() | new.keys()):
            old, theirs = base.get(path), new.get(path)
            if old == theirs:
                continue  # the template did not change it: whatever the user has stays
            target = project / path
            ours = pristine.read_file(target)
            if ours is None and (target.exists() or target.is_symlink()):
                plan.report["kept"].append(path)  # not a regular file any more: left alone
            elif theirs is None:
                if ours is not None and ours == old:
                    plan.removes.append(path)
                    plan.report["removed"].append(path)
                elif ours is not None:  # modify/delete: yours stays, unmerged in git
                    plan.report["conflicted"].append(path)
                    plan.report[DROPPED].append(path)
                    plan.stages[path] = {1: old, 3: None}
            elif ours is None:
                if old is None:
                    plan.writes[path] = theirs
                    plan.report["added"].append(path)
                else:
                    plan.report["kept deleted"].append(path)
            elif ours == theirs:
                continue
            elif ours == old or path == answers_file.ANSWERS_FILE:  # prodml's record: the new one
                plan.writes[path] = theirs
                plan.report["updated"].append(path)
            else:
                _merge(path, ours, old, theirs, plan, Path(scratch))
    return plan


def _vendored(project: Path, plan: Plan) -> list[str] | None:
    """The prodml wheels in the project's vendor/ ([] for none, where the project, as the update
    leaves it, installs them from there); None where it takes them from an index."""
    folder = project / vendor.VENDOR
    wheels = [*folder.glob("prodml-*.whl"), *folder.glob("prodml_runtime-*.whl")]
    if wheels:
        return sorted(wheel.name for wheel in wheels)
    for name, needle in FROM_VENDOR.items():
        entry = plan.writes.get(name) or pristine.read_file(project / name)
        if entry is not None and needle in entry[0]:
            return []
    return None


def vendor_plan(project: Path, plan: Plan) -> None:
    """Add this prodml's wheels to ``plan`` where vendor/ lacks them, and remove the other
    versions' (as ``prodml new`` vendors them); nothing for a project on an index."""
    have = _vendored(project, plan)
    if have is None:
        return
    wanted = (vendor.RUNTIME_WHEEL, vendor.PRODML_WHEEL)
    missing = [name for name in wanted if name not in have]
    with tempfile.TemporaryDirectory(prefix="prodml-vendor-") as scratch:
        if missing:
            vendor.vendor_wheels(Path(scratch))
        for name in missing:
            path = (vendor.VENDOR / name).as_posix()
            plan.writes[path] = ((Path(scratch) / path).read_bytes(), 0o644)
            plan.report["vendored"].append(path)
    for name in sorted(set(have) - set(wanted)):
        plan.removes.append((vendor.VENDOR / name).as_posix())
        plan.report["removed"].append(plan.removes[-1])


def prepare(project: Path, to: str | None, settings: Mapping[str, str]) -> Plan:
    """Check that the update can run, render and plan it; raise Refused otherwise."""
    if shutil.which("git") is None:
        raise Refused("git not found on PATH: prodml update merges with `git merge-file`")
    if not (project / answers_file.ANSWERS_FILE).is_file():
        raise Refused(f"{project} has no {answers_file.ANSWERS_FILE}: not a prodml project")
    try:
        recorded, version = answers_file.read(project)
    except ValueError as err:
        raise Refused(str(err)) from None
    if to is not None and to != __version__:
        raise Refused(
            f"--to {to}: this prodml ships template {__version__} only; run that version, "
            f"e.g. `uvx prodml=={to} update`"
        )
    if (_version(version) or ()) > (_version(__version__) or ()):
        raise Refused(f"the project is at template {version}, newer than this prodml: upgrade it")
    if _in_git(project) and (dirty := _dirty(project)):
        raise Refused(
            "the work tree has uncommitted changes; commit or stash them first:\n"
            + "\n".join(f"  {line}" for line in dirty[:10])
        )
    answers = _answers(recorded, settings)
    try:
        base = pristine.load(project)
    except ValueError as err:
        raise Refused(f"{err}: restore it, e.g. `git checkout -- {pristine.BASE_FILE}`") from None
    rebuilt = base is None
    if base is None:
        if version != __version__:
            raise Refused(
                f"{pristine.BASE_FILE} is missing, and the project is at template {version}: run "
                f"`uvx prodml=={version} update` once to record its base, then update"
            )
        base = _render(_answers(recorded, {}))
        for name in _data_derived(answers):
            base[name] = pristine.read_file(project / name) or base[name]
    new = _render(answers)
    for name in _data_derived(answers):
        if name in base:
            new[name] = base[name]
    plan = plan_merge(project, base, new)
    try:
        vendor_plan(project, plan)
    except vendor.WheelMissing as err:
        raise Refused(str(err)) from None
    if rebuilt:  # written even when nothing else changes
        plan.base_changed = True
        plan.notes.insert(0, f"{pristine.BASE_FILE} was missing: rebuilt from the recorded answers")
    return plan


def apply(project: Path, plan: Plan) -> None:
    """Stage ``plan`` in the journal, then carry it out."""
    journal = project / JOURNAL
    shutil.rmtree(journal, ignore_errors=True)
    (journal / "files").mkdir(parents=True)
    writes = []
    for number, (path, entry) in enumerate(sorted(plan.writes.items())):
        _stage_file(journal / "files" / str(number), entry)
        writes.append((path, str(number)))
    if plan.base_changed:
        _stage_file(journal / "base.tar.gz", (pristine.pack(plan.base), 0o644))
    in_git = _in_git(project)
    record = {
        "writes": writes,
        "removes": plan.removes,
        "index": _index_info(project, plan, journal) if in_git else None,
        "report": plan.report,
    }
    pristine.write_atomic(journal / "plan.json", json.dumps(record).encode())
    finish(project)


def _stage_file(path: Path, entry: tuple[bytes, int]) -> None:
    pristine.write_atomic(path, entry[0])
    path.chmod(entry[1])


def _index_info(project: Path, plan: Plan, journal: Path) -> list[str]:
    """``git update-index --index-info`` lines that mark each conflict unmerged: stage 1 the
    base, 2 yours (the index as it is), 3 the template's."""
    prefix = _run(project, "rev-parse", "--show-prefix").stdout.strip()
    lines, blobs = [], []
    for number, (path, sides) in enumerate(plan.stages.items()):
        ours = _run(project, "ls-files", "-s", "--", path).stdout.split()
        if not ours:
            continue  # not tracked (git-ignored): the markers alone show the conflict
        lines += [f"0 {'0' * 40}\t{prefix}{path}", f"{ours[0]} {ours[1]} 2\t{prefix}{path}"]
        for stage, entry in sides.items():
            if entry is not None:
                blob = journal / "stages" / f"{number}-{stage}"
                pristine.write_atomic(blob, entry[0])
                blobs.append((blob, f"100{entry[1]:o}", stage, path))
    if blobs:
        stdin = _lines(str(blob) for blob, *_ in blobs)
        hashed = _run(project, "hash-object", "-w", "--stdin-paths", stdin=stdin, check=True)
        for oid, (_, mode, stage, path) in zip(hashed.stdout.split(), blobs, strict=True):
            lines.append(f"{mode} {oid} {stage}\t{prefix}{path}")
    return lines


def pending(project: Path) -> bool:
    """Whether an interrupted update's plan waits in the journal."""
    return (project / JOURNAL / "plan.json").is_file()


def finish(project: Path) -> dict[str, list[str]]:
    """Carry out the journal's plan (again, if a run was killed); return its report."""
    journal = project / JOURNAL
    record = json.loads((journal / "plan.json").read_text(encoding="utf-8"))
    for path, staged in record["writes"]:
        if (journal / "files" / staged).exists():
            (project / path).parent.mkdir(parents=True, exist_ok=True)
            (journal / "files" / staged).replace(project / path)
    for path in record["removes"]:
        (project / path).unlink(missing_ok=True)
        for parent in (project / path).parents:  # the directories the removal emptied
            if parent == project or (parent.is_dir() and any(parent.iterdir())):
                break
            if parent.is_dir():
                parent.rmdir()
    if (journal / "base.tar.gz").exists():
        (journal / "base.tar.gz").replace(project / pristine.BASE_FILE)
    if record["index"] is not None:
        _record_in_git(project, record)
    (journal / "plan.json").unlink()  # done: a leftover journal without a plan is discarded
    shutil.rmtree(journal)
    if not any((project / JOURNAL.parent).iterdir()):
        (project / JOURNAL.parent).rmdir()
    return record["report"]


def _record_in_git(project: Path, record: dict) -> None:
    """Stage the results (as git merge does) and mark the conflicts unmerged.

    The tree held nothing uncommitted before the update, so every change under it is the
    update's; git-ignored files stay out, as ``git add`` leaves them.
    """
    _run(project, "add", "-A", "--", ".", f":(exclude){JOURNAL}", check=True)
    if record["index"]:
        _run(project, "update-index", "--index-info", stdin=_lines(record["index"]), check=True)


def summary(report: Mapping[str, list[str]]) -> list[str]:
    """One line per changed path, grouped by what happened to it."""
    lines = []
    dropped = set(report.get(DROPPED, ()))
    for kind in KINDS:
        for path in report.get(kind, []):
            why = EXPLAINED[DROPPED] if path in dropped else EXPLAINED.get(kind)
            lines.append(f"  {kind:<12} {path}" + (f"  ({why})" if why else ""))
    return lines
