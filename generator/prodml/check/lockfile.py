"""PML503-504: a lock file, current with pyproject.toml, checked offline.

``uv lock --check`` needs the package index whenever the lock is stale, and uv on the machine;
here the dependency set the lock recorded is compared with pyproject's instead. uv.lock records
each requirement of the project (``[package.metadata] requires-dist``): name, extras, specifier
and the extra it belongs to are compared; other environment markers are not (CI's
``make lock-check`` is exact). A requirement uv takes from a source (``[tool.uv.sources]``: a
vendored wheel's path, a URL, git) is recorded with that source instead of a specifier: it is
the declared one when name, extras and extra agree, and the version locked for it must be within
the declared bounds (uv's own check does not compare them). A pip project's locks
(``uv pip compile``) record only pins: the direct dependencies (``# via <project>
(pyproject.toml)``) must be pyproject's, pinned within their bounds.
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
#: The keys uv.lock records for a requirement taken from a source instead of an index.
SOURCES = ("path", "url", "git", "directory", "editable")
#: (group, name, extras, specifiers); specifiers None: uv takes it from a source (SOURCES).
Requirement = tuple[str, str, frozenset[str], frozenset[str] | None]


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


def declared(pyproject: dict[str, Any]) -> set[Requirement]:
    project = pyproject.get("project", {})
    found: set[Requirement] = {requirement(r) for r in project.get("dependencies", [])}
    for extra, items in project.get("optional-dependencies", {}).items():
        found |= {requirement(r, normal(extra)) for r in items}
    for group, items in pyproject.get("dependency-groups", {}).items():
        found |= {requirement(r, "group:" + normal(group)) for r in items if isinstance(r, str)}
    return found


def _recorded_one(entry: dict[str, Any], group: str) -> Requirement:
    sourced = not entry.get("specifier") and any(key in entry for key in SOURCES)
    return (
        group, normal(entry["name"]), frozenset(normal(e) for e in entry.get("extras", [])),
        None if sourced else _specifiers(entry.get("specifier", "")),
    )  # fmt: skip


def recorded(lock: dict[str, Any], name: str) -> set[Requirement] | None:
    """What uv.lock recorded for the project ``name``; None when it has no such package."""
    package = next((p for p in lock.get("package", []) if p.get("name") == name), None)
    if package is None:
        return None
    metadata = package.get("metadata", {})
    found = set()
    for entry in metadata.get("requires-dist", []):
        extra = _EXTRA.search(entry.get("marker", ""))
        found.add(_recorded_one(entry, normal(extra[1]) if extra else ""))
    for group, entries in metadata.get("requires-dev", {}).items():
        found |= {_recorded_one(e, "group:" + normal(group)) for e in entries}
    return found


def compare(
    want: set[Requirement], have: set[Requirement]
) -> tuple[set[Requirement], set[Requirement], set[Requirement]]:
    """(declared but not locked, locked but not declared, the declared requirements uv took
    from a source): a recorded requirement with a source stands for the declared one with the
    same group, name and extras, whatever its specifiers."""
    sourced = {h[:3] for h in have if h[3] is None}
    missing = {w for w in want if w not in have and w[:3] not in sourced}
    declared = {w[:3] for w in want}
    extra = {h for h in have if h not in want and not (h[3] is None and h[:3] in declared)}
    return missing, extra, {w for w in want if w not in have and w[:3] in sourced}


def _describe(items: set[Requirement]) -> list[str]:
    return sorted(
        f"{name}{'[' + ','.join(sorted(x)) + ']' if x else ''}{','.join(sorted(s or ()))}"
        + (f" ({group})" if group else "")
        for group, name, x, s in items
    )


def _blocks(text: str, names: set[str]) -> str:
    """The lock's header and the ``[[package]]`` tables of ``names``: parsing the whole of a
    large uv.lock costs more than every other check together."""
    header = text.split("[[package]]", 1)[0]
    pattern = "|".join(re.escape(name) for name in sorted(names))
    blocks = re.findall(rf'^\[\[package\]\]\nname = "(?:{pattern})"\n.*?(?=^\[\[package\]\]|\Z)',
                        text, re.M | re.S)  # fmt: skip
    return header + "".join(blocks)


def _sources_changed(pyproject: dict[str, Any], have: set[Requirement]) -> list[str]:
    """The packages locked from a source pyproject no longer names, or from an index though
    ``[tool.uv.sources]`` names a source for them."""
    sources = pyproject.get("tool", {}).get("uv", {}).get("sources", {})
    named = {normal(name) for name in sources} if isinstance(sources, dict) else set()
    sourced = {name for _, name, _, specifiers in have if specifiers is None}
    indexed = {name for _, name, _, specifiers in have if specifiers is not None}
    return sorted((sourced - named) | (named & indexed - sourced))


def _outside(lock: dict[str, Any], sourced: set[Requirement]) -> list[str]:
    """``name==version`` of each requirement taken from a source whose locked version is
    outside the declared bounds."""
    versions: dict[str, set[str]] = {}
    for package in lock.get("package", []):
        versions.setdefault(normal(package.get("name", "")), set()).add(package.get("version", ""))
    found = set()
    for _, name, _, specifiers in sourced:
        for version in versions.get(name, set()):
            if version and not all(within(version, s) for s in specifiers or ()):
                found.add(f"{name}=={version} ({','.join(sorted(specifiers or ()))})")
    return sorted(found)


def uv_lock_problem(project: Project, pyproject: dict[str, Any]) -> str | None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # repo-review depends on tomli there
        import tomli as tomllib

    name = normal(str(pyproject.get("project", {}).get("name", "")))
    text = project.text(UV_LOCK) or ""
    try:
        lock = tomllib.loads(_blocks(text, {name}))
    except tomllib.TOMLDecodeError as err:
        return f"`{UV_LOCK}` is not valid TOML ({err}): run `make lock`."
    lock_python = _specifiers(str(lock.get("requires-python", "")))
    want_python = _specifiers(str(pyproject.get("project", {}).get("requires-python", "")))
    have = recorded(lock, name)
    if have is None:
        return f"`{UV_LOCK}` has no package `{name}`: it locks another project; run `make lock`."
    missing, extra, sourced = compare(declared(pyproject), have)
    problems = []
    if missing:
        problems.append(f"not locked: {listing(_describe(missing))}")
    if extra:
        problems.append(f"locked but no longer declared: {listing(_describe(extra))}")
    if lock_python != want_python:
        problems.append("requires-python differs")
    if changed := _sources_changed(pyproject, have):
        problems.append(f"sources changed in `[tool.uv.sources]`: {listing(changed)}")
    message = []
    if problems:
        message.append(
            f"`{UV_LOCK}` is out of date with pyproject.toml ({'; '.join(problems)}): "
            "run `make lock`."
        )
    if sourced:  # the versions locked for them: their own tables
        locked = tomllib.loads(_blocks(text, {item[1] for item in sourced}))
        if outside := _outside(locked, sourced):
            message.append(
                f"`{UV_LOCK}` takes {listing(outside)} from a source, outside pyproject's bounds "
                "(`make lock` keeps it): point the source at a version within them (a vendored "
                "wheel: `prodml update` replaces it) or change the bounds."
            )
    return " ".join(message) or None


def _release(version: str) -> tuple[int, ...] | None:
    match = re.match(r"\d+(\.\d+)*", version)
    return tuple(int(p) for p in match[0].split(".")) if match else None


def within(version: str, specifier: str) -> bool:
    """Whether ``version`` meets ``specifier`` by its release numbers (>=, >, <=, <, ==, !=,
    ~= and ``==X.*``; others are not judged)."""
    match = re.fullmatch(r"(~=|>=|<=|==|!=|>|<)([\w.*+!-]+)", specifier)
    pinned, bound = _release(version), _release(match[2]) if match else None
    if match is None or pinned is None or bound is None:
        return True
    if match[2].endswith(".*") and match[1] in ("==", "!="):  # a prefix
        same = pinned[: len(bound)] + (0,) * (len(bound) - len(pinned)) == bound
        return same == (match[1] == "==")
    if "*" in match[2]:
        return True
    width = max(len(pinned), len(bound))
    a, b = pinned + (0,) * (width - len(pinned)), bound + (0,) * (width - len(bound))
    if match[1] == "~=":  # >= the bound, and the same release but for its last number
        return a >= b and len(bound) > 1 and a[: len(bound) - 1] == b[: len(bound) - 1]
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
            if n in want and not all(within(v, s) for s in want[n])
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
