"""Turning bytes from messy corpora into text, and saying what was done."""

from __future__ import annotations

import codecs

SNIFF_BYTES = 8192
LEGACY_ENCODING = "cp1252"


class DecodeProblem(ValueError):
    """Bytes that are not text we can read (binary, or not in the asked encoding)."""


def looks_binary(head: bytes) -> bool:
    """NUL bytes outside a UTF-16/32 BOM mean binary (images, archives, PDFs)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return False
    return b"\x00" in head[:SNIFF_BYTES]


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str | None]:
    """Decode bytes; returns (text, note) where note says what fallback was used.

    With ``encoding=None`` ("auto"): a BOM decides; else UTF-8; else the legacy
    Windows-1252 codepage (the usual source of invalid UTF-8 in Western text),
    reported in the note so the user knows. Binary data raises DecodeProblem.
    """
    if encoding:
        try:
            return data.decode(encoding), None
        except UnicodeDecodeError as exc:
            raise DecodeProblem(f"not valid {encoding} at byte {exc.start}") from exc
        except LookupError as exc:
            raise DecodeProblem(f"unknown encoding {encoding!r}") from exc
    for bom, codec in (
        (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
        (codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec), None
            except UnicodeDecodeError as exc:
                raise DecodeProblem(f"has a {codec} byte-order mark but is not valid {codec}") from exc
    if looks_binary(data):
        raise DecodeProblem("looks like a binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        position = exc.start
    text = data.decode(LEGACY_ENCODING, errors="replace")
    return text, f"not valid UTF-8 (byte {position}); decoded as {LEGACY_ENCODING}"
