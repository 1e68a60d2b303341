"""The pristine render a project was last generated or updated with: ``.prodml/base.tar.gz``.

``prodml update`` merges the template's changes since this base into the project (a three-way
merge: base, the user's tree, the new render). The base lives in the project, so it travels with
clones and squash-merged pull requests, survives an upgrade of prodml and needs no git. The
archive is deterministic (sorted names, no timestamps), so the same files give the same bytes.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path, PurePosixPath

BASE_FILE = PurePosixPath(".prodml/base.tar.gz")

#: Top-level entries that are never template output: git's, prodml's own, data/ (the user's
#: data file and what ``make data`` writes; git-ignored and possibly large) and vendor/
#: (prodml's wheels, which ``prodml new`` and ``prodml update`` replace whole: prodml.vendor).
NOT_RENDERED = frozenset({".git", ".prodml", "data", "vendor"})

#: A tree as relative POSIX path -> (content, mode): mode is 0o755 or 0o644.
Files = dict[str, tuple[bytes, int]]


def _mode(executable: bool) -> int:
    return 0o755 if executable else 0o644


def read_file(path: Path) -> tuple[bytes, int] | None:
    """A regular file's content and mode, or None when it is missing or not a regular file."""
    if path.is_symlink() or not path.is_file():
        return None
    return path.read_bytes(), _mode(os.access(path, os.X_OK))


def snapshot(root: Path) -> Files:
    """Every regular file under ``root`` except the entries in NOT_RENDERED."""
    found: Files = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if relative.parts[0] in NOT_RENDERED or (entry := read_file(path)) is None:
            continue
        found[relative.as_posix()] = entry
    return found


def pack(files: Files) -> bytes:
    """The gzipped tar of ``files``: byte-identical for identical files."""
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            content, mode = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), mode, 0
            tar.addfile(info, io.BytesIO(content))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, filename="") as gz:
        gz.write(tar_bytes.getvalue())
    return packed.getvalue()


def unpack(data: bytes) -> Files:
    """The files of a base archive; ValueError if it is not one."""
    files: Files = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                name = PurePosixPath(member.name)
                if not member.isfile() or name.is_absolute() or ".." in name.parts:
                    raise ValueError(f"unexpected entry {member.name!r}")
                extracted = tar.extractfile(member)
                content = extracted.read() if extracted is not None else b""
                files[name.as_posix()] = (content, _mode(bool(member.mode & 0o111)))
    except (tarfile.TarError, OSError, EOFError) as err:
        raise ValueError(str(err)) from None
    return files


def write_atomic(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a sibling temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)


def save(project: Path, files: Files) -> None:
    """Record ``files`` as the project's base."""
    write_atomic(project / BASE_FILE, pack(files))


def load(project: Path) -> Files | None:
    """The project's base, or None when it has none; ValueError if the archive is damaged."""
    path = project / BASE_FILE
    if not path.is_file():
        return None
    try:
        return unpack(path.read_bytes())
    except ValueError as err:
        raise ValueError(f"{path} is damaged ({err})") from None
