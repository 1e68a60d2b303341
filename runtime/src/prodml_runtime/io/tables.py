"""Tabular files in chunks: CSV and Parquet read with bounded memory, written atomically.

Readers yield DataFrames whose index is the row's position in the file (0 = first data row),
so a row keeps its number whatever the chunk size; CSV files are split at a ``separator`` and
write numbers with a ``decimal`` mark (the schema's; ``sniff`` tells them for a new file).
Writers stage into a temporary file next to the target and rename it into place on ``commit``:
a failed run never leaves a half-written file.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ..core.errors import ProjectError
from . import atomic

FORMATS = {".csv": "csv", ".parquet": "parquet"}


class TableError(ProjectError, ValueError):
    """A file that cannot be used: wrong extension, missing, unreadable, or missing columns."""


def file_format(path: Path, what: str = "file") -> str:
    """``csv`` or ``parquet`` from the extension; TableError for anything else."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise TableError(
            f"{what} {path} must end in .csv or .parquet, not {path.suffix or 'no extension'!r}"
        ) from None


#: What a CSV that is not UTF-8 is read as: Windows' Western European code page (Excel's
#: exports), else Latin-1, which reads every byte.
FALLBACK_ENCODINGS = ("cp1252", "latin-1")


def codec(encoding: str) -> str:
    """The codec a file in ``encoding`` is opened with: UTF-8 skips a leading byte-order mark."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def text_encoding(path: Path) -> str:
    """``utf-8`` if the CSV at ``path`` is UTF-8 text, or UTF-8 text with a broken byte (which
    its readers then name); else the first of ``FALLBACK_ENCODINGS`` that decodes it. Read in
    blocks, never whole."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    broken = multibyte = False
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            text = decoder.decode(block)
            if not text.isascii():
                broken = broken or "\ufffd" in text
                multibyte = multibyte or not text.replace("\ufffd", "").isascii()
    if not broken or multibyte:
        return "utf-8"
    for encoding in FALLBACK_ENCODINGS:
        try:
            with path.open(encoding=encoding) as file:
                while file.read(1 << 20):
                    pass
        except UnicodeDecodeError:
            continue
        return encoding
    return FALLBACK_ENCODINGS[-1]  # pragma: no cover (Latin-1 decodes every byte)


def columns(
    path: Path, what: str = "input", *, separator: str = ",", encoding: str = "utf-8"
) -> list[str]:
    """The column names of a CSV or Parquet file (its header), without reading the rows; an
    empty CSV name is ``Unnamed: <position>``, as pandas reads it (R's row names, say).

    TableError if the file is missing or unreadable, or names a column twice (pandas would
    rename the second ``x`` to ``x.1`` and silently use the first).
    """
    kind = file_format(path, what)
    if not path.is_file():
        raise TableError(f"{what} file not found: {path}")
    try:
        if kind == "parquet":
            names = list(pq.ParquetFile(path).schema_arrow.names)
        else:
            with path.open(encoding=codec(encoding), newline="") as file:
                header = next(csv.reader(file, delimiter=separator), [])
            names = [name or f"Unnamed: {i}" for i, name in enumerate(header)]  # as pandas does
    except (ValueError, OSError, UnicodeDecodeError, csv.Error, pa.ArrowException) as error:
        raise TableError(f"could not read {path} as {kind}: {_first_line(error)}") from None
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise TableError(
            f"{path} names column(s) more than once: {', '.join(map(repr, repeated))}; "
            "rename or drop the copies"
        )
    return names


def read_table(
    path: Path,
    what: str = "data",
    missing: Sequence[str] = (),
    *,
    separator: str = ",",
    decimal: str = ".",
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """A whole CSV or Parquet file: CSV text as written, where empty cells and the ``missing``
    texts (the schema's ``na_values``) are missing; CSV cells split at ``separator``, numbers
    written with the ``decimal`` mark, text in ``encoding``.

    TableError saying what is wrong: missing, unreadable, not CSV or Parquet, duplicate columns.
    """
    kind = file_format(path, f"{what} file")
    columns(path, what, separator=separator, encoding=encoding)
    try:
        if kind == "parquet":
            return _without(pd.read_parquet(path), missing)
        return pd.read_csv(
            path,
            sep=separator,
            decimal=decimal,
            keep_default_na=False,
            na_values=["", *missing],
            encoding=codec(encoding),
        )
    except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as error:
        raise TableError(f"could not read {path} as {kind}: {_first_line(error)}") from None


def infinite_cells(frame: pd.DataFrame) -> dict[Any, np.ndarray]:
    """The rows (a boolean mask) of each column of ``frame`` that holds infinite numbers."""
    numbers = frame.select_dtypes("number")
    infinite = {name: np.isinf(numbers[name].to_numpy(dtype=float)) for name in numbers}
    return {name: rows for name, rows in infinite.items() if rows.any()}


def infinite_text(
    path: Path, frame: pd.DataFrame, *, separator: str = ",", encoding: str = "utf-8"
) -> list[str]:
    """How a CSV writes the infinite numbers ``frame`` (``read_table``'s of it) holds, e.g. R's
    ``Inf`` and ``-Inf``: the cells' texts, for the schema's ``na_values``."""
    infinite = infinite_cells(frame) if file_format(path) == "csv" else {}
    if not infinite:
        return []
    texts = pd.read_csv(
        path, sep=separator, usecols=list(infinite), dtype=str, keep_default_na=False,
        encoding=codec(encoding),
    )  # fmt: skip
    return sorted({text.strip() for name, rows in infinite.items() for text in texts[name][rows]})


def read_chunks(
    path: Path,
    chunk_rows: int,
    usecols: Sequence[str],
    missing: Sequence[str] = (),
    *,
    separator: str = ",",
    decimal: str = ".",
    encoding: str = "utf-8",
) -> Iterator[pd.DataFrame]:
    """The ``usecols`` of ``path`` in chunks of ``chunk_rows`` rows, indexed by row position.

    CSV cells (split at ``separator``, text in ``encoding``) are read as text, exactly as
    written but for a number's ``decimal`` mark, which becomes a dot (empty cells and the
    ``missing`` texts are missing), so a chunk's types never depend on its neighbours; Parquet
    columns keep the file's types (their ``missing`` texts are missing too).
    """
    kind = file_format(path, "input")
    start = 0
    try:
        if kind == "parquet":
            batches = pq.ParquetFile(path).iter_batches(
                batch_size=chunk_rows, columns=list(usecols)
            )
            chunks: Iterator[pd.DataFrame] = (
                _without(batch.to_pandas(), missing) for batch in batches
            )
        else:
            chunks = pd.read_csv(
                path,
                sep=separator,
                chunksize=chunk_rows,
                usecols=list(usecols),
                keep_default_na=False,
                na_values=["", *missing],
                dtype=str,
                encoding=codec(encoding),
            )
            if decimal != ".":
                chunks = (_decimal_dots(chunk, decimal) for chunk in chunks)
        for chunk in chunks:
            chunk.index = pd.RangeIndex(start, start + len(chunk))
            start += len(chunk)
            yield chunk[list(usecols)]
    except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as error:
        raise TableError(
            f"could not read {path} as {kind} (after row {start}): {_first_line(error)}"
        ) from None


#: The separators ``sniff`` tells apart, in order of preference.
SEPARATORS = (",", ";", "\t", "|")
#: How much of a file ``sniff`` reads.
SNIFF_BYTES = 1 << 16
#: A number written with ``{}`` as its decimal mark (``3,5``, ``-,5``, ``1,5e3`` for a comma).
NUMBER = r"\s*[+-]?\d*{}\d+(?:[eE][+-]?\d+)?\s*"
COMMA_NUMBER, DOT_NUMBER = re.compile(NUMBER.format(",")), re.compile(NUMBER.format(r"\."))


def sniff(path: Path, separator: str | None = None, encoding: str = "utf-8") -> tuple[str, str]:
    """The separator (one of ``SEPARATORS``, unless given) and decimal mark a CSV file is
    written with, from its first ``SNIFF_BYTES``: the separator splitting the most lines into as
    many cells as the header has (two or more; the most cells wins a tie), and ``,`` as the
    decimal mark when a file not separated by commas writes more numbers with a comma than with
    a dot. ``(",", ".")`` when nothing splits the header."""
    with path.open(encoding=codec(encoding), errors="replace", newline="") as file:
        text = file.read(SNIFF_BYTES)
    lines = text.splitlines()[:-1] if len(text) == SNIFF_BYTES else text.splitlines()
    best, best_score, rows = separator or ",", (0.0, 0), []
    for candidate in (separator,) if separator else SEPARATORS:
        parsed = [row for row in csv.reader(lines, delimiter=candidate) if row]
        width = len(parsed[0]) if parsed else 0
        body = parsed[1:] or parsed
        score = (sum(len(row) == width for row in body) / len(body), width) if width > 1 else None
        if score is not None and score > best_score:
            best, best_score, rows = candidate, score, parsed[1:]
    if best == ",":
        return best, "."
    cells = [cell for row in rows for cell in row]
    commas = sum(1 for cell in cells if COMMA_NUMBER.fullmatch(cell))
    dots = sum(1 for cell in cells if DOT_NUMBER.fullmatch(cell))
    return best, "," if commas > dots else "."


def _decimal_dots(chunk: pd.DataFrame, decimal: str) -> pd.DataFrame:
    """``chunk`` (text) with each number written with the ``decimal`` mark written with a dot."""
    pattern = NUMBER.format(re.escape(decimal))
    for name in chunk.columns:
        values = chunk[name]
        numbers = values.str.fullmatch(pattern).fillna(False).astype(bool)
        if numbers.any():
            chunk[name] = values.where(~numbers, values.str.replace(decimal, ".", regex=False))
    return chunk


def shorten(name: object, width: int = 40) -> str:
    """``name`` quoted, cut to ``width`` characters (a whole header line passed as one name)."""
    text = str(name)
    return repr(text) if len(text) <= width else f"{text[:width]!r}... ({len(text)} characters)"


def column_list(names: Sequence[object], limit: int = 20) -> str:
    """The first ``limit`` column names, each shortened, and how many there are in all."""
    shown = ", ".join(shorten(name) for name in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{len(names)} column{'s' if len(names) != 1 else ''}: {shown}{more}"


def separator_hint(names: Sequence[object], separator: str = ",") -> str:
    """Why the columns may be wrong: a header whose names hold another separator of
    ``SEPARATORS`` looks written with it (``; it looks ';'-separated``), else ``""``."""
    header = separator.join(map(str, names))
    counts = {s: header.count(s) for s in SEPARATORS if s != separator}
    found = max(counts, key=lambda s: counts[s])
    if not counts[found] or counts[found] < len(names) - 1:
        return ""
    return f"; the header looks {found!r}-separated, not {separator!r}-separated"


def read_row_groups(
    path: Path, groups: Sequence[int], usecols: Sequence[str], missing: Sequence[str] = ()
) -> pd.DataFrame:
    """Row groups ``groups`` of a Parquet file, read as ``read_chunks`` reads them (one
    partition of a Parquet dataset); the index starts at 0."""
    try:
        table = pq.ParquetFile(path).read_row_groups(list(groups), columns=list(usecols))
    except (ValueError, OSError, pa.ArrowException) as error:
        raise TableError(f"could not read {path} as parquet: {_first_line(error)}") from None
    frame: pd.DataFrame = _without(table.to_pandas(), missing)[list(usecols)]
    return frame


#: A part of a Parquet dataset folder, named by its first row (12 digits).
PART = "part-{:012d}.parquet"


def write_part(table: pa.Table, folder: Path, first_row: int) -> None:
    """Write ``table`` atomically as the part of ``folder`` named by ``first_row`` (a retried
    task rewrites the same part)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(None), sink)
    atomic.write_bytes(folder / PART.format(first_row), sink.getvalue().to_pybytes())


def holds_text(values: pd.Series) -> bool:
    """Whether a column read from a file may hold text (a missing-value text, say): it is not
    numbers or booleans."""
    return not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _without(frame: pd.DataFrame, missing: Sequence[str]) -> pd.DataFrame:
    """``frame`` with the ``missing`` texts in its text columns made missing."""
    if not missing:
        return frame
    for name in frame.columns:
        values = frame[name]
        if holds_text(values):
            frame[name] = values.where(~values.isin(list(missing)))
    return frame


def _first_line(error: BaseException) -> str:
    """What went wrong reading a file, in one line, with the fix where there is a usual one."""
    if isinstance(error, UnicodeDecodeError):
        name = "UTF-8" if error.encoding.startswith("utf-8") else error.encoding
        return (
            f"it is not {name} text (byte {error.object[error.start]:#x} at {error.start}): name "
            "its encoding in the schema (e.g. encoding: cp1252, or latin-1, which reads every "
            "byte), or save it as UTF-8 (e.g. iconv -f cp1252 -t utf-8 IN.csv > OUT.csv)"
        )
    if isinstance(error, pd.errors.EmptyDataError):
        return "the file is empty: it needs a header row and data rows"
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class AtomicWriter:
    """Append DataFrame chunks to a CSV or Parquet file that appears only on ``commit``.

    With ``arrow_schema`` every chunk is cast to it and written by Arrow (fast; CSV text values
    quoted); without, CSV chunks are written by pandas as they are (Parquet takes the first
    chunk's schema). Either way, the bytes do not depend on how the rows were chunked.
    """

    def __init__(self, path: Path, arrow_schema: pa.Schema | None = None) -> None:
        self.path = path
        self.kind = file_format(path, "output")
        self.rows = 0
        self._schema = arrow_schema
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.remove_stale(path.parent, path.name)
        self._temporary = atomic.staging_path(path)
        os.close(os.open(self._temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, atomic.file_mode()))
        self._file: Any = None
        self._arrow: pq.ParquetWriter | pa_csv.CSVWriter | None = None

    def write(self, frame: pd.DataFrame) -> None:
        if self.kind == "csv" and self._schema is None:
            if self._file is None:
                self._file = self._temporary.open("w", encoding="utf-8", newline="")
                frame.to_csv(self._file, index=False)
            else:
                frame.to_csv(self._file, index=False, header=False)
        else:
            table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            if self._arrow is None:
                self._schema = table.schema.remove_metadata()
                if self.kind == "csv":
                    self._arrow = pa_csv.CSVWriter(self._temporary, self._schema)
                else:
                    self._arrow = pq.ParquetWriter(self._temporary, self._schema)
            self._arrow.write_table(table.replace_schema_metadata(None))
        self.rows += len(frame)

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._arrow is not None:
            self._arrow.close()
            self._arrow = None

    def commit(self, empty: pd.DataFrame) -> None:
        """Close and move the file into place (``empty``: the columns if no chunk was written)."""
        if self._file is None and self._arrow is None:
            self.write(empty)
        self._close()
        os.replace(self._temporary, self.path)

    def discard(self) -> None:
        """Close and delete the temporary file; the target is left as it was."""
        self._close()
        self._temporary.unlink(missing_ok=True)
