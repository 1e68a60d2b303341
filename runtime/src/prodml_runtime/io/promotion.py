"""Changing the champion: ``promote`` (through the gate, ``core.gate``) and ``rollback``.

Both hold an exclusive lock on ``models/.lock`` (POSIX ``flock``), so concurrent promotions are
serialized; the lock is opened without following a symbolic link, so it never creates or locks
a file outside the registry. Each appends to the history first (one atomic rewrite) and then
updates the pointer: the champion is read from the history, so a crash between the two leaves a
stale copy that the next promotion or rollback repairs, never a champion without its history
entry. Each write first removes the staging that killed writers left in the registry.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: promotions are not serialized
    fcntl = None  # type: ignore[assignment]

from ..core import clock, gate
from . import atomic
from .registry import (
    CHAMPION_FILE,
    HISTORY_FILE,
    RegistryError,
    checked_name,
    current_champion,
    history,
    read_inside,
    read_metadata,
    refuse_link,
    verify,
)

LOCK_FILE = ".lock"


def _write_history(root: Path, entries: list[dict[str, Any]]) -> None:
    atomic.write_text(root / HISTORY_FILE, "".join(json.dumps(e) + "\n" for e in entries))


def _sync_pointer(root: Path, name: str) -> None:
    try:
        stale = read_inside(root, CHAMPION_FILE).decode("utf-8").strip() != name
    except (OSError, UnicodeDecodeError, RegistryError):  # a link is replaced by the file
        stale = True
    if stale:
        atomic.write_text(root / CHAMPION_FILE, name + "\n")


@contextlib.contextmanager
def locked(root: Path) -> Iterator[None]:
    """Hold the registry's write lock (other promotions and rollbacks wait for it)."""
    root.mkdir(parents=True, exist_ok=True)
    lock = root / LOCK_FILE
    refuse_link(lock)
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(lock, flags, atomic.file_mode())
    except OSError as error:
        if error.errno == errno.ELOOP:  # made a link since the check
            refuse_link(lock)
        raise
    with os.fdopen(descriptor, "r+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _record(
    root: Path, entries: list[dict[str, Any]], action: str, version: str, reason: str
) -> None:
    """Append the change to the history, then point the champion file at ``version``."""
    previous = entries[-1]["version"] if entries else current_champion(root)
    entry = {
        "action": action,
        "version": version,
        "previous": previous,
        "at": clock.iso(),
        "reason": reason,
    }
    _write_history(root, [*entries, entry])
    _sync_pointer(root, version)


def promote(root: Path, version: str, *, force: bool = False) -> str:
    """Make ``version`` the champion if it passes the gate; return the reason recorded.

    Raises PromotionRefused when the gate fails (see ``gate.gate``), RegistryError when the
    version is unknown or its artifact fails its checksum. Promoting the current champion changes
    nothing (and repairs a stale champion file).
    """
    checked_name(root, version)
    candidate = verify(root, version)
    with locked(root):
        previous = current_champion(root)
        if previous == version:
            _sync_pointer(root, version)
            return f"{version} is already the champion"
        incumbent = read_metadata(root, previous) if previous else None
        reason = gate.gate(candidate, incumbent, force=force)
        _record(root, history(root), "promote", version, reason)
    return reason


def _champion_stack(root: Path, entries: list[dict[str, Any]]) -> list[str]:
    """Champions in promotion order, with rolled-back promotions removed."""
    stack: list[str] = []
    for number, entry in enumerate(entries, 1):
        if entry["action"] == "promote":
            stack.append(entry["version"])
        elif len(stack) < 2:
            raise RegistryError(
                f"{root / HISTORY_FILE} entry {number} rolls back further than its promotions "
                "go: fix the file, or promote a version (`promote VERSION --force`)"
            )
        else:
            stack.pop()
    return stack


def rollback(root: Path) -> str:
    """Restore the champion that the last promotion replaced; return its version.

    Repeated rollbacks walk further back. The restored artifact is checksum-verified first.
    """
    with locked(root):
        entries = history(root)
        stack = _champion_stack(root, entries)
        if len(stack) < 2:
            raise RegistryError(f"nothing to roll back to: {root} has no earlier champion")
        current, restored = stack[-1], stack[-2]
        verify(root, restored)
        _record(root, entries, "rollback", restored, f"rollback from {current}")
    return restored
