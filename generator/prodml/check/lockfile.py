"""PML503-504: a lock file, current with pyproject.toml, checked offline.

``uv lock --check`` needs the package index whenever the lock is stale, and uv on the machine;
here the dependency set the lock recorded is compared with pyproject's instead. uv.lock records
each requirement of the project (``[package.metadata] requires-dist``): name, extras, specifier
and the extra it belongs to are compared; other environment markers are not (CI's
``make lock-check`` is exact). A pip project's locks (``uv pip compile``) record only pins:
the direct dependencies (``# via <project> (pyproject.toml)``) must be pyproject's, pinned within
their bounds.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from prodml.check.base import NOT_PRODML, Check, Project, listing

FAMILY = "prodml-lock"
UV_LOCK = "uv.lock"
PIP_LOCKS = ("requirements-dev.lock", "requirements.lock")
_REQUIREMENT = re.compile(
    r"\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[(?P<extras>[^\]]*)\])?\s*"
    r"(?P<spec>[^;@]*)(@[^;]*)?(;(?P<marker>.*))?"
)
_EXTRA = re.compile(r"""extra\s*==\s*['"]([^'"]+)['"]""")


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _specifiers(text: str) -> frozenset[str]:
    return frozenset(part.replace(" ", "") for part in text.split(",") if part.strip())


def requirement(text: str, group: str = "") -> tuple[str, str, frozenset[str], frozenset[str]]:
    """(group, name, extras, specifiers) of a PEP 508 string; markers other than extra dropped."""
    match = _REQUIREMENT.match(text)
    if match is None:
        return group, text.strip(), frozenset(), frozenset()
    extras = frozenset(normal(e) for e in (match["extras"] or "").split(",") if e.strip())
    return group, normal(match["name"]), extras, _specifiers(match["spec"])


def declared(pyproject: dict[str, Any]) -> set[tuple[str, str, frozenset[str], frozenset[str]]]:
    project = pyproject.get("project", {})
    found = {requirement(r) for r in project.get("dependencies", [])}
    for extra, items in project.get("optional-dependencies", {}).items():
        found |= {requirement(r, normal(extra)) for r in items}
    for group, items in pyproject.get("dependency-groups", {}).items():
        found |= {requirement(r, "group:" + normal(group)) for r in items if isinstance(r, str)}
    return found


def recorded(
    lock: dict[str, Any], name: str
) -> set[tuple[str, str, frozenset[str], frozenset[str]]] | None:
    """What uv.lock recorded for the project ``name``; None when it has no such package."""
    package = next((p for p in lock.get("package", []) if p.get("name") == name), None)
    if package is None:
        return None
    metadata = package.get("metadata", {})
    found = set()
    for entry in metadata.get("requires-dist", []):
        extra = _EXTRA.search(entry.get("marker", ""))
        found.add((
            normal(extra[1]) if extra else "", normal(entry["name"]),
            frozenset(normal(e) for e in entry.get("extras", [])),
            _specifiers(entry.get("specifier", "")),
        ))  # fmt: skip
    for group, entries in metadata.get("requires-dev", {}).items():
        found |= {
            ("group:" + normal(group), normal(e["name"]),
             frozenset(normal(x) for x in e.get("extras", [])), _specifiers(e.get("specifier", "")))
            for e in entries
        }  # fmt: skip
    return found


def _describe(items: set[tuple[str, str, frozenset[str], frozenset[str]]]) -> list[str]:
    return sorted(
        f"{name}{'[' + ','.join(sorted(x)) + ']' if x else ''}{','.join(sorted(s))}"
        + (f" ({group})" if group else "")
        for group, name, x, s in items
    )


def _project_block(text: str, name: str) -> str:
    """The lock's header and the ``[[package]]`` table of ``name``: parsing the whole of a
    large uv.lock costs more than every other check together."""
    header = text.split("[[package]]", 1)[0]
    block = re.search(rf'^\[\[package\]\]\nname = "{re.escape(name)}"\n.*?(?=^\[\[package\]\]|\Z)',
                      text, re.M | re.S)  # fmt: skip
    return header + (block[0] if block else "")


def uv_lock_problem(project: Project, pyproject: dict[str, Any]) -> str | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # repo-review depends on tomli there
        import tomli as tomllib

    name = normal(str(pyproject.get("project", {}).get("name", "")))
    try:
        lock = tomllib.loads(_project_block(project.text(UV_LOCK) or "", name))
    except tomllib.TOMLDecodeError as err:
        return f"`{UV_LOCK}` is not valid TOML ({err}): run `make lock`."
    lock_python = _specifiers(str(lock.get("requires-python", "")))
    want_python = _specifiers(str(pyproject.get("project", {}).get("requires-python", "")))
    have = recorded(lock, name)
    if have is None:
        return f"`{UV_LOCK}` has no package `{name}`: it locks another project; run `make lock`."
    want = declared(pyproject)
    problems = []
    if want - have:
        problems.append(f"not locked: {listing(_describe(want - have))}")
    if have - want:
        problems.append(f"locked but no longer declared: {listing(_describe(have - want))}")
    if lock_python != want_python:
        problems.append("requires-python differs")
    if not problems:
        return None
    return (
        f"`{UV_LOCK}` is out of date with pyproject.toml ({'; '.join(problems)}): run `make lock`."
    )


def _release(version: str) -> tuple[int, ...] | None:
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(p) for p in match[0].split(".")) if match else None


def _within(version: str, specifier: str) -> bool:
    """Whether ``version`` meets ``specifier`` (>=, >, <=, <, ==, !=; others are not judged)."""
    match = re.fullmatch(r"(>=|<=|==|!=|>|<)([\w.*+!-]+)", specifier)
    pinned, bound = _release(version), _release(match[2]) if match else None
    if match is None or pinned is None or bound is None or "*" in match[2]:
        return True
    width = max(len(pinned), len(bound))
    a, b = pinned + (0,) * (width - len(pinned)), bound + (0,) * (width - len(bound))
    return {">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b, ">": a > b, "<": a < b}[
        match[1]
    ]


def direct_pins(text: str, project_name: str) -> dict[str, str]:
    """name -> pinned version of the lock's entries required by the project's pyproject.toml."""
    found: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if pin := re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line):
            current = (normal(pin[1]), pin[2])
        elif current and re.search(
            rf"#\s*(via\s+)?{re.escape(project_name)} \(pyproject\.toml\)", line
        ):
            found[current[0]] = current[1]
    return found


def _expand(pyproject: dict[str, Any], extras: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """name -> specifiers of the dependencies plus ``extras`` (self-references expanded)."""
    project = pyproject.get("project", {})
    own = normal(str(project.get("name", "")))
    optional = {normal(k): v for k, v in project.get("optional-dependencies", {}).items()}
    wanted: dict[str, frozenset[str]] = {}
    items, pending, seen = list(project.get("dependencies", [])), list(extras), set()
    while items or pending:
        if items:
            _, name, nested, specs = requirement(items.pop())
            if name == own:
                pending += nested
            else:
                wanted[name] = wanted.get(name, frozenset()) | specs
        elif (extra := normal(pending.pop())) not in seen:
            seen.add(extra)
            items += optional.get(extra, [])
    return wanted


def pip_locks_problem(project: Project, pyproject: dict[str, Any]) -> str | None:
    name = str(pyproject.get("project", {}).get("name", ""))
    problems = []
    for lock, extras in zip(PIP_LOCKS, (("dev",), ()), strict=True):
        want = _expand(pyproject, extras)
        have = direct_pins(project.text(lock) or "", name)
        outside = [
            f"{n}=={v}"
            for n, v in have.items()
            if n in want and not all(_within(v, s) for s in want[n])
        ]
        for label, names in (("not locked", sorted(set(want) - set(have))),
                             ("locked but no longer declared", sorted(set(have) - set(want))),
                             ("pinned outside pyproject's bounds", outside)):  # fmt: skip
            if names:
                problems.append(f"`{lock}` {label}: {listing(names)}")
    if not problems:
        return None
    return (
        f"The lock files are out of date with pyproject.toml ({'; '.join(problems)}): "
        "run `make lock`."
    )


def locks(project: Project) -> tuple[str, ...]:
    """The lock files the project must have ((): none expected)."""
    if project.valid:
        assert project.answers is not None
        return (UV_LOCK,) if project.answers["env_manager"] == "uv" else PIP_LOCKS
    return (UV_LOCK,) if project.exists(UV_LOCK) else ()


class PML503(Check):
    """Dependencies are locked (uv.lock, or the pip project's two lock files)"""

    family = FAMILY

    def skip_reason(self, project: Project) -> str:
        if project.answers is not None and not project.valid:
            return "the answers are invalid (PML102)"
        return "" if locks(project) else f"{NOT_PRODML}, and no {UV_LOCK}"

    def verify(self, project: Project) -> str | None:
        missing = [lock for lock in locks(project) if not project.exists(lock)]
        if not missing:
            return None
        return (
            f"No {listing(missing)}: run `make lock` and commit it (the image and CI install it)."
        )


class PML504(Check):
    """Lock file is current with pyproject.toml (offline)"""

    family = FAMILY

    def skip_reason(self, project: Project) -> str:
        if reason := PML503().skip_reason(project):
            return reason
        if not all(project.exists(lock) for lock in locks(project)):
            return "no lock file (PML503)"
        return "" if project.pyproject.get("project") else "no [project] table in pyproject.toml"

    def verify(self, project: Project) -> str | None:
        if locks(project) == (UV_LOCK,):
            return uv_lock_problem(project, project.pyproject)
        return pip_locks_problem(project, project.pyproject)


CHECKS = (PML503, PML504)
