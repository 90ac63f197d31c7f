"""What the readers produce (records and problems) and the options they read with.

Kept apart from :mod:`indexer.readers` so the pipeline, the distributed indexer
and the readers' format parsers share these types without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO, Union

from .textio import decode

DEFAULT_MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
# Metadata is stored as JSON and filtered in SQL; hundreds of levels are never
# data, and Python's JSON encoder and decoder recurse per level.
MAX_METADATA_DEPTH = 64


@dataclass
class Record:
    """One document to index."""

    id: str
    text: str
    metadata: dict[str, Any]
    source: str  # "path" or "path:line", for messages
    note: str | None = None  # e.g. "decoded as cp1252"


@dataclass
class Problem:
    """Something skipped, with where and why."""

    source: str
    message: str
    kind: str = "bad-record"  # bad-record | binary | encoding | empty | too-large | other-extension


Item = Union[Record, Problem]


@dataclass
class ReadOptions:
    format: str = "auto"
    id_field: str = "id"
    text_field: str = "text"
    encoding: str | None = None  # None = auto (UTF-8, BOMs, legacy cp1252 fallback)
    strict: bool = False  # no encoding guesswork: invalid UTF-8 is a problem
    max_document_bytes: int = DEFAULT_MAX_DOCUMENT_BYTES
    stdin: BinaryIO | None = None  # for tests; defaults to sys.stdin.buffer
    skipped_extensions: dict[str, int] = field(default_factory=dict)


def _decode(data: bytes, options: ReadOptions) -> tuple[str, str | None]:
    encoding = options.encoding or ("utf-8" if options.strict else None)
    return decode(data, encoding)


@dataclass(frozen=True)
class InputFile:
    """One file to read: where it is, how it is named in ids and messages, its format."""

    path: str
    shown: str
    format: str
    prefix: str  # before line numbers in ids ("" for a single input)
    #: A distributed run reads a big file as several parts: Parquet row groups
    #: [first, end) whose first row is number ``first_row``; JSONL or lines bytes
    #: [start, end) (whole lines) whose first line is number ``first_line``.
    row_groups: tuple[int, int, int] | None = None
    byte_range: tuple[int, int, int] | None = None
