"""Atomic writes: a file or folder appears complete, with the usual permissions, or not at all.

Everything is staged next to its target under a name that says who is writing it
(``.<name>.<host>-<pid>-<random>.tmp``) and renamed into place. A process killed mid-write
leaves only such a staging entry, which ``remove_stale`` deletes once its writer is gone: every
write here does so first, for the whole folder it writes into.
Staged files and folders get the modes the umask gives (``mkstemp`` and ``mkdtemp`` make them
private), so another user, e.g. the serving container's, can read what was written.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

SUFFIX = ".tmp"
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
_STAGED = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")
#: Staging entries of another host (a shared disk) count as stale after this long.
FOREIGN_STALE_SECONDS = 86_400


def umask() -> int:
    """The process umask, read without changing it (``/proc``), else by setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    return 0o666 & ~umask()


def folder_mode() -> int:
    return 0o777 & ~umask()


def staging_path(target: Path) -> Path:
    """A fresh name next to ``target`` for staging it: never listed as the target itself."""
    token = secrets.token_hex(4)
    return target.with_name(f".{target.name}.{process_name()}-{token}{SUFFIX}")


def is_staging(name: str) -> bool:
    return _STAGED.match(name) is not None


def staging_target(name: str) -> str | None:
    """The name of the target a staging entry called ``name`` stands for (None: not one)."""
    match = _STAGED.match(name)
    return None if match is None else match["name"]


def process_name() -> str:
    """This process as ``<host>-<pid>``: who is writing a staging entry or a batch run."""
    return f"{_HOST}-{os.getpid()}"


def process_gone(name: str) -> bool:
    """Whether the process ``name`` (from ``process_name``) on this host has ended.

    A process of another host cannot be asked: it counts as alive.
    """
    host, _, pid = name.rpartition("-")
    if host != _HOST or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):  # another user's process, or not a pid
        return False
    return False


def _writer_gone(path: Path) -> bool:
    match = _STAGED.match(path.name)
    if match is None:
        return False
    if match["host"] != _HOST:
        try:
            return time.time() - path.lstat().st_mtime > FOREIGN_STALE_SECONDS
        except FileNotFoundError:
            return False
    return process_gone(f"{match['host']}-{match['pid']}")


def remove_stale(directory: Path, name: str | None = None) -> list[Path]:
    """Delete the staging entries in ``directory`` (of target ``name``, or all) left by dead
    writers; return them."""
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for path in directory.iterdir():
        match = _STAGED.match(path.name)
        if match is None or (name is not None and match["name"] != name):
            continue
        if _writer_gone(path):
            remove(path)
            removed.append(path)
    return removed


def remove(path: Path) -> None:
    """Delete a staging file or folder, if it is still there."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def write_bytes(path: Path, data: bytes, durable: bool = True) -> None:
    """Write ``path`` atomically (staged, flushed to disk, renamed); its folder must exist. The
    staging that dead writers left in that folder is removed first."""
    remove_stale(path.parent)
    staged = staging_path(path)
    try:
        descriptor = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode())
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.replace(staged, path)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_folder(path.parent)


def write_text(path: Path, text: str, durable: bool = True) -> None:
    write_bytes(path, text.encode("utf-8"), durable)


def staging_folder(target: Path) -> Path:
    """A new, empty folder next to ``target`` to fill and then ``publish`` as ``target``."""
    folder = staging_path(target)
    folder.mkdir()  # 0o777 less the umask, unlike mkdtemp's 0o700
    return folder


def publish(staging: Path, names: list[str], into: Path) -> None:
    """Move each of ``names`` (files or folders) from ``staging`` into ``into``, replacing what
    is there, then remove ``staging``. Writing took seconds; the moves take microseconds, and a
    kill between them leaves staging that the next writer's ``remove_stale`` deletes."""
    into.mkdir(parents=True, exist_ok=True)
    replaced = []
    for name in names:
        old = into / name
        if old.is_dir() and not old.is_symlink():
            aside = staging_path(old)
            os.rename(old, aside)
            replaced.append(aside)
        os.replace(staging / name, old)
    for path in [*replaced, staging]:
        remove(path)


def replace_folder(staging: Path, target: Path) -> None:
    """Put the filled ``staging`` folder in place of ``target`` (a generated folder, replaced
    whole): the old one is moved aside, the new one renamed in, the old one deleted."""
    aside = None
    if target.exists():
        aside = staging_path(target)
        os.rename(target, aside)
    os.rename(staging, target)
    if aside is not None:
        remove(aside)


@contextlib.contextmanager
def _staged(target: Path, is_folder: bool) -> Iterator[Path]:
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target.parent)
    staged = staging_folder(target) if is_folder else staging_path(target)
    try:
        yield staged
        if is_folder:
            replace_folder(staged, target)
        else:
            os.chmod(staged, file_mode())
            os.replace(staged, target)
    except BaseException:
        remove(staged)
        raise


def folder(target: Path) -> contextlib.AbstractContextManager[Path]:
    """A staging folder to fill; it replaces ``target`` on success and is deleted on failure."""
    return _staged(target, is_folder=True)


def file(target: Path) -> contextlib.AbstractContextManager[Path]:
    """A staging path to write (by any library); it replaces ``target`` on success."""
    return _staged(target, is_folder=False)
