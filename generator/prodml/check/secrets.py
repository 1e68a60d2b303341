"""PML703: no secrets in tracked files.

A small set of well-known, high-signal patterns (the formats providers issue, and private key
blocks), plus ``password = "..."``-style assignments of a literal that is not an obvious
placeholder. Files git tracks are read; binary files, files over 1 MB, lock files (uv writes
them: hashes and index URLs) and ``.prodml/`` (the pristine template render) are not. The
message names the file, line and kind, never the value.
"""

from __future__ import annotations

import re

from prodml.check.base import Check, Project, listing

FAMILY = "prodml-git"
MAX_BYTES = 1_000_000
SKIPPED_DIRS = (".prodml/",)
PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "private key": re.compile(r"-----BEGIN ((RSA|DSA|EC|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY"),
    "GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})\b"),
    "GitLab token": re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "password assignment": re.compile(
        r"""(?i)(password|passwd|secret|api_?key|access_?token|auth_?token)\w*["']?\s*[:=]\s*"""
        r"""(?P<quote>["'])(?P<value>[^"'\s]{8,})(?P=quote)"""
    ),
}
_PLACEHOLDER = re.compile(
    r"(?i)example|changeme|change_me|placeholder|dummy|redacted|secret|password|your[_-]|"
    r"xxxx|\*\*\*|\.\.\.|^<.*>$|[${}]"
)


_ANY = re.compile("|".join(f"(?:{p.pattern})" for p in PATTERNS.values()).replace("(?i)", ""), re.I)


def findings(text: str) -> list[tuple[int, str]]:
    """(line, kind) of every likely secret in ``text``, one per line."""
    found: dict[int, str] = {}
    for candidate in _ANY.finditer(text):  # one pass over the file; most files have no match
        start = text.rfind("\n", 0, candidate.start()) + 1
        end = text.find("\n", candidate.end())
        line = text[start : None if end < 0 else end]
        number = text.count("\n", 0, start) + 1
        for kind, pattern in PATTERNS.items():
            match = pattern.search(line)
            value = match.groupdict().get("value") if match else None
            if match and (value is None or not _PLACEHOLDER.search(value)):
                found.setdefault(number, kind)
                break
    return sorted(found.items())


class PML703(Check):
    """No secrets in tracked files"""

    family = FAMILY

    def skip_reason(self, project: Project) -> str:
        return project.git_reason

    def verify(self, project: Project) -> str | None:
        assert project.local is not None and project.tracked is not None
        found = []
        for relative in project.tracked:
            if relative.startswith(SKIPPED_DIRS) or relative.endswith(".lock"):
                continue
            path = project.local / relative
            try:
                if not path.is_file() or path.stat().st_size > MAX_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if b"\0" not in data:
                text = data.decode("utf-8", errors="replace")
                found += [f"{relative}:{line} ({kind})" for line, kind in findings(text)]
        if not found:
            return None
        return (
            f"Possible secrets in tracked files: {listing(found)}. Remove them, rotate the "
            "credential (it is in the history), and read it from the environment or `.env` "
            "(git-ignored). A false positive: `[tool.prodml.check] ignore = "
            '{PML703 = "why"}`.'
        )


CHECKS = (PML703,)
