"""Read corpora into records: files, folders, JSONL, CSV/TSV, Parquet, one document per line, stdin.

Readers never raise on bad data: they yield a :class:`Problem` naming the file
and line, and go on. The pipeline decides (``--strict`` or not) what to do.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import stat
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO, Iterable, Iterator

from ..errors import InputError
from .records import (  # noqa: F401  (re-exported: the readers' own types)
    DEFAULT_MAX_DOCUMENT_BYTES,
    MAX_METADATA_DEPTH,
    InputFile,
    Item,
    Problem,
    ReadOptions,
    Record,
    _decode,
)
from .textio import SNIFF_BYTES, DecodeProblem, looks_binary

FORMATS = ("auto", "text", "lines", "jsonl", "csv", "parquet")
TEXT_EXTENSIONS = {".txt", ".md", ".markdown", ".rst", ".text"}
FORMAT_BY_EXTENSION = {
    **{ext: "text" for ext in TEXT_EXTENSIONS},
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv", ".parquet": "parquet",
}
STDIN = "-"


def check_inputs(paths: list[str], options: ReadOptions) -> None:
    """Raise on an unknown format or a missing path, before anything is read."""
    if options.format not in FORMATS:
        raise InputError(f"unknown format {options.format!r} (choose from {', '.join(FORMATS)})")
    for raw in paths:
        if raw != STDIN and not os.path.exists(raw):
            raise InputError(f"no such file or folder: {raw}")


def list_inputs(paths: list[str], options: ReadOptions) -> Iterator[InputFile | str]:
    """The files the inputs name, in reading order (``"-"`` for stdin); files in
    folders with an extension no reader knows are counted in ``options.skipped_extensions``."""
    several = len(paths) > 1
    for raw in paths:
        if raw == STDIN:
            yield STDIN
        elif os.path.isdir(raw):
            yield from _folder_files(Path(raw), options, several)
        else:
            path = Path(raw)
            fmt = options.format if options.format != "auto" else FORMAT_BY_EXTENSION.get(path.suffix.lower(), "text")
            shown = os.path.normpath(raw)
            yield InputFile(raw, shown, fmt, f"{shown}:" if several else "")


def read_inputs(paths: Iterable[str], options: ReadOptions) -> Iterator[Item]:
    """Records and problems from all inputs, in order. Paths are checked first."""
    paths = list(paths)
    check_inputs(paths, options)
    several = len(paths) > 1
    for source in list_inputs(paths, options):
        if source == STDIN:
            stream = options.stdin or sys.stdin.buffer
            # auto on stdin: JSONL if it starts with "{", else one document per line
            yield from _read_stream(stream, "<stdin>", "" if not several else "stdin:", options.format, options)
        else:
            yield from read_file(source, options)


def read_file(source: InputFile, options: ReadOptions) -> Iterator[Item]:
    """Records and problems from one listed file."""
    if source.byte_range is not None:
        return _read_part(source, options)
    return _read_file(Path(source.path), source.shown, source.format, options, source.prefix, source.row_groups)


def _read_part(source: InputFile, options: ReadOptions) -> Iterator[Item]:
    start, end, first_line = source.byte_range
    try:
        with open(source.path, "rb") as handle:
            handle.seek(start)
            data = handle.read(end - start)
    except OSError as exc:
        yield Problem(source.shown, f"cannot read: {exc.strerror}", "unreadable")
        return
    stream = io.BufferedReader(io.BytesIO(data))
    yield from _read_stream(stream, source.shown, source.prefix, source.format, options, first_line)


def line_parts(source: InputFile, options: ReadOptions, part_bytes: int) -> list[InputFile]:
    """A big JSONL or lines file as parts of about ``part_bytes`` of whole lines, each
    knowing its first line's number (counted here, at disk speed), so that ids and
    messages are those of reading it whole. Files a local read would treat as one
    unit (binary-looking, UTF-16/32) stay whole, as do small ones."""
    try:
        size = os.path.getsize(source.path)
        if source.format not in ("jsonl", "lines") or size <= part_bytes:
            return [source]
        with open(source.path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
            if _wide_encoding(head, options) or looks_binary(head):
                return [source]
            parts, start, line = [], 0, 1
            handle.seek(0)
            while start < size:
                end, newlines = min(size, start + part_bytes), 0
                while handle.tell() < end:
                    chunk = handle.read(min(1 << 24, end - handle.tell()))
                    if not chunk:  # the file shrank meanwhile: its reader will say so
                        return [source]
                    newlines += chunk.count(b"\n")
                while end < size:  # on to the end of the line (a huge one is read in pieces)
                    rest = handle.readline(1 << 20)
                    end += len(rest)
                    if not rest or rest.endswith(b"\n"):
                        newlines += rest.count(b"\n")
                        break
                parts.append(replace(source, byte_range=(start, end, line)))
                start, line = end, line + newlines
    except OSError:  # the reader reports it
        return [source]
    return parts


def _folder_files(root: Path, options: ReadOptions, several: bool) -> Iterator[InputFile]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if options.format == "auto":
                fmt = FORMAT_BY_EXTENSION.get(path.suffix.lower())
                if fmt is None:
                    ext = path.suffix.lower() or "(no extension)"
                    options.skipped_extensions[ext] = options.skipped_extensions.get(ext, 0) + 1
                    continue
            else:
                fmt = options.format
            shown = (root / rel).as_posix() if several else rel
            yield InputFile(str(path), shown, fmt, f"{shown}:")


def _special_file(path: Path) -> str | None:
    """What a path is when it is not a regular file (reading a FIFO nobody writes to
    would wait forever), or None. Pipes under /dev/fd and /proc (the shell's
    ``<(command)``) are read: someone is writing to them."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # open() reports it
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode) and str(path).startswith(("/dev/fd/", "/proc/")):
        return None
    for test, what in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return what
    return "not a regular file"


def _read_file(path: Path, shown: str, fmt: str, options: ReadOptions, prefix: str,
               row_groups: tuple[int, int, int] | None = None) -> Iterator[Item]:
    special = _special_file(path)
    if special:
        yield Problem(shown, f"{special}, not a file: skipped (pipe it in with: vecdex index - < {shown})",
                      "not-a-file")
        return
    try:
        handle = open(path, "rb")
    except OSError as exc:
        yield Problem(shown, f"cannot read: {exc.strerror}", "unreadable")
        return
    with handle:
        if fmt == "text":
            data = handle.read(options.max_document_bytes + 1)
            if len(data) > options.max_document_bytes:
                yield Problem(shown, f"larger than the {options.max_document_bytes // 2**20} MB document limit", "too-large")
                return
            yield from _text_document(data, shown, options)
        elif fmt == "parquet":
            yield from _parquet_records(handle, shown, options, row_groups)
        else:
            yield from _read_stream(handle, shown, prefix, fmt, options)


def _text_document(data: bytes, doc_id: str, options: ReadOptions) -> Iterator[Item]:
    try:
        text, note = _decode(data, options)
    except DecodeProblem as exc:
        yield Problem(doc_id, str(exc), "binary" if "binary" in str(exc) else "encoding")
        return
    if not text.strip():
        yield Problem(doc_id, "empty document", "empty")
        return
    yield Record(doc_id, text, {}, doc_id, note)


def _iter_lines(stream: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) per line; bytes is None for a line over ``limit``,
    which is skipped without ever holding it in memory."""
    number = 0
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # drain the rest of the huge line
                rest = stream.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, None
            continue
        yield number, line


_WIDE_CODECS = {"utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}


def _wide_encoding(head: bytes, options: ReadOptions) -> str | None:
    """The encoding when it is UTF-16/32 (asked for, or announced by a BOM): such
    text holds NUL bytes and its lines do not end in a b"\\n" byte, so it is
    decoded as a stream instead of being split into byte lines."""
    if options.encoding:
        try:
            name = codecs.lookup(options.encoding).name
        except LookupError:
            return None
        return name if name in _WIDE_CODECS else None
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


_BAD = "\udcff"  # a lone surrogate: never the result of decoding valid UTF-16/32


def _mark_bad(error: UnicodeDecodeError) -> tuple[str, int]:
    return _BAD, error.end


codecs.register_error("vecdex-mark", _mark_bad)


def _wide_lines(stream: BinaryIO, shown: str, encoding: str, options: ReadOptions):
    """(line number, text or Problem, note) from a UTF-16/32 stream; a line that
    does not decode is a problem naming it (the others are read)."""
    reader = io.TextIOWrapper(stream, encoding=encoding, errors="vecdex-mark", newline="")
    number = 0
    while True:
        line = reader.readline(options.max_document_bytes + 1)
        if not line:
            return
        number += 1
        if number == 1:
            line = line.lstrip("\ufeff")
        if len(line) > options.max_document_bytes:
            yield number, Problem(f"{shown}:{number}", "line longer than the document limit", "too-large"), None
            while line and not line.endswith("\n"):  # drain the rest of the huge line
                line = reader.readline(1 << 20)
            continue
        if _BAD in line:
            yield number, Problem(f"{shown}:{number}", f"not valid {encoding}", "encoding"), None
            continue
        yield number, line.rstrip("\r\n"), None


def _read_stream(stream: BinaryIO, shown: str, prefix: str, fmt: str, options: ReadOptions,
                 first_line: int = 1) -> Iterator[Item]:
    """``first_line`` > 1: a part of a file (:func:`line_parts`), which was sniffed whole."""
    if fmt == "parquet":  # binary and read by footer: the stream is read whole
        yield from _parquet_records(io.BytesIO(stream.read()), shown.strip("<>"), options)
        return
    head = stream.peek(SNIFF_BYTES)[:SNIFF_BYTES] if hasattr(stream, "peek") else b""
    wide = _wide_encoding(head, options) if first_line == 1 else None
    if head and not wide and first_line == 1 and looks_binary(head):
        yield Problem(shown, "looks like a binary file (contains NUL bytes)", "binary")
        return
    if fmt == "auto":
        start = head.decode(wide, errors="ignore").lstrip("\ufeff \t\r\n") if wide else head.lstrip()
        fmt = "jsonl" if start[:1] in ("{", b"{") else "lines"
    if fmt == "text":
        data = stream.read(options.max_document_bytes + 1)
        if len(data) > options.max_document_bytes:
            yield Problem(shown, "larger than the document limit", "too-large")
            return
        yield from _text_document(data, shown.strip("<>"), options)
        return
    lines = _wide_lines(stream, shown, wide, options) if wide else _decoded_lines(stream, shown, options, first_line)
    if fmt == "lines":
        yield from _lines_records(lines, prefix)
    elif fmt == "jsonl":
        yield from _jsonl_records(lines, shown, options)
    elif fmt == "csv":
        yield from _csv_records(lines, shown, options, delimiter="\t" if shown.lower().endswith(".tsv") else ",")


def _decoded_lines(stream: BinaryIO, shown: str, options: ReadOptions,
                   first_line: int = 1) -> Iterator[tuple[int, str | Problem, str | None]]:
    first = first_line == 1  # a byte-order mark can only start the file
    for number, raw in _iter_lines(stream, options.max_document_bytes):
        number += first_line - 1
        if raw is None:
            yield number, Problem(f"{shown}:{number}", f"line longer than the {options.max_document_bytes // 2**20} MB limit", "too-large"), None
            continue
        if first and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        first = False
        if not options.encoding and b"\x00" not in raw:
            try:  # the common case, without the BOM and fallback checks
                yield number, raw.decode("utf-8").rstrip("\r\n"), None
                continue
            except UnicodeDecodeError:
                pass
        try:
            text, note = _decode(raw, options)
        except DecodeProblem as exc:
            yield number, Problem(f"{shown}:{number}", str(exc), "encoding"), None
            continue
        yield number, text.rstrip("\r\n"), note


def _lines_records(lines, prefix: str) -> Iterator[Item]:
    for number, text, note in lines:
        if isinstance(text, Problem):
            yield text
        elif text.strip():
            yield Record(f"{prefix}{number}", text, {}, f"{prefix or 'line '}{number}", note)


def _jsonl_records(lines, shown: str, options: ReadOptions) -> Iterator[Item]:
    for number, text, note in lines:
        where = f"{shown}:{number}"
        if isinstance(text, Problem):
            yield text
            continue
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            yield Problem(where, f"malformed JSON ({exc.msg} at column {exc.colno})")
            continue
        except RecursionError:
            yield Problem(where, f"JSON nested too deeply (metadata may nest {MAX_METADATA_DEPTH} levels)")
            continue
        if not isinstance(obj, dict):
            yield Problem(where, f"expected a JSON object, got {type(obj).__name__}")
            continue
        if _depth(obj) > MAX_METADATA_DEPTH:
            yield Problem(where, f"JSON nested too deeply (metadata may nest {MAX_METADATA_DEPTH} levels)")
            continue
        yield _record_from_fields(obj, where, options, note)


def _depth(value: Any) -> int:
    """How deeply lists and objects nest (without recursion: the input may be hostile)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_METADATA_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def _record_from_fields(fields: dict[str, Any], where: str, options: ReadOptions, note: str | None) -> Item:
    doc_id = fields.get(options.id_field)
    if doc_id is None or (isinstance(doc_id, str) and not doc_id.strip()):
        return Problem(where, f"missing id field {options.id_field!r} (set --id-field)", "missing-id")
    if isinstance(doc_id, (dict, list)):
        return Problem(where, f"id field {options.id_field!r} must be a string or number")
    text = fields.get(options.text_field)
    if text is None:
        return Problem(where, f"missing text field {options.text_field!r} (set --text-field)", "missing-text")
    if not isinstance(text, str):
        return Problem(where, f"text field {options.text_field!r} must be a string, got {type(text).__name__}")
    if not text.strip():
        return Problem(where, "empty document", "empty")
    metadata = {k: v for k, v in fields.items() if k not in (options.id_field, options.text_field)}
    return Record(str(doc_id), text, metadata, where, note)


def _csv_records(lines, shown: str, options: ReadOptions, delimiter: str) -> Iterator[Item]:
    csv.field_size_limit(options.max_document_bytes)
    pending: list[Problem] = []
    numbers: list[int] = []

    def physical_lines() -> Iterator[str]:
        for number, text, _note in lines:
            if isinstance(text, Problem):
                pending.append(text)
                continue
            numbers.append(number)
            yield text + "\n"

    reader = csv.reader(physical_lines(), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        yield from pending
        return
    except csv.Error as exc:
        yield Problem(f"{shown}:1", f"malformed CSV header ({exc})")
        return
    header = [h.strip() for h in header]
    for name in (options.id_field, options.text_field):
        if name not in header:
            yield Problem(shown, f"CSV header has no column {name!r} (columns: {', '.join(header)})",
                          "missing-id" if name == options.id_field else "missing-text")
            return
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Problem(f"{shown}:{numbers[-1] if numbers else '?'}", f"malformed CSV ({exc})")
            continue
        yield from pending
        pending.clear()
        where = f"{shown}:{numbers[-1] if numbers else '?'}"
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Problem(where, f"row has {len(row)} fields, the header has {len(header)}")
            continue
        yield _record_from_fields(dict(zip(header, row)), where, options, None)
    yield from pending


#: Rows converted to Python objects at a time (a row group can be far bigger).
PARQUET_BATCH_ROWS = 4096


def _parquet_records(handle: BinaryIO, shown: str, options: ReadOptions,
                     row_groups: tuple[int, int, int] | None = None) -> Iterator[Item]:
    """One record per row (columns as in JSONL: id, text, the rest metadata; rows
    numbered from 1 in the file), read a batch at a time; a file that is not
    Parquet is one problem."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(handle)
    except (pa.ArrowException, OSError) as exc:
        yield Problem(shown, f"not a readable Parquet file ({str(exc).splitlines()[0]})", "bad-record")
        return
    groups, number = None, 0
    if row_groups is not None:
        groups, number = list(range(row_groups[0], row_groups[1])), row_groups[2] - 1
    try:
        for batch in reader.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=groups):
            for fields in batch.to_pylist():
                number += 1
                yield _record_from_fields(fields, f"{shown}:{number}", options, None)
    except (pa.ArrowException, OSError) as exc:
        yield Problem(f"{shown}:{number + 1}", f"damaged Parquet data ({str(exc).splitlines()[0]})", "bad-record")


def parquet_parts(source: InputFile, rows_per_part: int) -> list[InputFile]:
    """A Parquet file as parts of whole row groups, about ``rows_per_part`` rows each
    (the file itself if it is small or its footer unreadable: reading reports that)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(source.path)
    except Exception:  # noqa: BLE001 - the reader turns it into a problem
        return [source]
    parts, start, first, rows = [], 0, 1, 0
    for group in range(meta.num_row_groups):
        rows += meta.row_group(group).num_rows
        if rows >= rows_per_part or group == meta.num_row_groups - 1:
            parts.append(replace(source, row_groups=(start, group + 1, first)))
            start, first, rows = group + 1, first + rows, 0
    return parts if len(parts) > 1 else [source]


def read_stream_for_tests(data: bytes, fmt: str = "lines", **kwargs: Any) -> list[Item]:
    """Convenience for tests and the API: records from bytes as if read from stdin."""
    options = ReadOptions(format=fmt, stdin=io.BufferedReader(io.BytesIO(data)), **kwargs)
    return list(read_inputs(["-"], options))
