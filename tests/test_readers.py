"""Readers: every input format, and every kind of bad input, reported with file and line."""

from __future__ import annotations

import io
import json

import pytest
from vecdex.indexer.readers import (
    InputError,
    Problem,
    ReadOptions,
    Record,
    read_inputs,
    read_stream_for_tests,
)


def records(items):
    return [i for i in items if isinstance(i, Record)]


def problems(items):
    return [i for i in items if isinstance(i, Problem)]


def test_folder_reads_text_files_recursively_with_relative_ids(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.txt").write_text("Alpha text.", "utf-8")
    (tmp_path / "sub" / "b.md").write_text("# Beta\n\nBeta text.", "utf-8")
    (tmp_path / ".hidden.txt").write_text("hidden", "utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    options = ReadOptions()
    items = list(read_inputs([str(tmp_path)], options))
    assert [r.id for r in records(items)] == ["a.txt", "sub/b.md"]
    assert options.skipped_extensions == {".png": 1}


def test_binary_file_with_text_extension_is_reported(tmp_path):
    (tmp_path / "bad.txt").write_bytes(b"GIF89a\x00\x01\x02binary")
    items = list(read_inputs([str(tmp_path / "bad.txt")], ReadOptions()))
    [problem] = problems(items)
    assert problem.kind == "binary" and "bad.txt" in problem.source


def test_legacy_encoding_is_decoded_and_noted_but_refused_when_strict(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Café crème, naïve façade.".encode("cp1252"))
    [record] = records(read_inputs([str(path)], ReadOptions()))
    assert record.text == "Café crème, naïve façade."
    assert "cp1252" in record.note
    [problem] = problems(read_inputs([str(path)], ReadOptions(strict=True)))
    assert problem.kind == "encoding"


def test_utf16_with_bom_and_utf8_bom(tmp_path):
    (tmp_path / "u16.txt").write_bytes("Grüße aus Köln".encode("utf-16"))
    (tmp_path / "u8.txt").write_bytes(b"\xef\xbb\xbfHello BOM")
    texts = {r.id: r.text for r in records(read_inputs([str(tmp_path)], ReadOptions()))}
    assert texts == {"u16.txt": "Grüße aus Köln", "u8.txt": "Hello BOM"}


def test_lines_format_ids_are_line_numbers_and_blank_lines_skipped():
    items = read_stream_for_tests(b"first doc\n\nthird doc\n", fmt="lines")
    assert [(r.id, r.text) for r in records(items)] == [("1", "first doc"), ("3", "third doc")]


def test_jsonl_fields_metadata_and_problems_name_the_line():
    data = "\n".join([
        json.dumps({"id": "a", "text": "alpha", "year": 2001, "tags": ["x"]}),
        "{not json",
        json.dumps({"text": "no id"}),
        json.dumps({"id": 7, "text": "   "}),
        json.dumps(["a", "list"]),
        json.dumps({"id": 8, "text": "number id"}),
    ]).encode()
    items = read_stream_for_tests(data, fmt="jsonl")
    good = records(items)
    assert [(r.id, r.metadata) for r in good] == [("a", {"year": 2001, "tags": ["x"]}), ("8", {})]
    bad = problems(items)
    assert [p.source for p in bad] == ["<stdin>:2", "<stdin>:3", "<stdin>:4", "<stdin>:5"]
    assert bad[1].kind == "missing-id" and bad[2].kind == "empty"


def test_jsonl_custom_fields():
    data = json.dumps({"url": "u1", "body": "text here", "lang": "en"}).encode()
    [record] = records(read_stream_for_tests(data, fmt="jsonl", id_field="url", text_field="body"))
    assert (record.id, record.text, record.metadata) == ("u1", "text here", {"lang": "en"})


def test_csv_rows_metadata_and_bad_rows(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text('id,text,year\n1,"Hello, world",1999\n2,too,many,fields\n3,"multi\nline text",2005\n', "utf-8")
    items = list(read_inputs([str(path)], ReadOptions()))
    assert [(r.id, r.text, r.metadata) for r in records(items)] == [
        ("1", "Hello, world", {"year": "1999"}), ("3", "multi\nline text", {"year": "2005"})]
    [problem] = problems(items)
    assert problem.source.endswith("data.csv:3") and "fields" in problem.message


def test_csv_without_the_text_column_is_one_problem(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,body\n1,x\n", "utf-8")
    [problem] = list(read_inputs([str(path)], ReadOptions()))
    assert "text" in problem.message and problem.kind == "missing-text"


def test_tsv_uses_tabs(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("id\ttext\na\thello, there\n", "utf-8")
    [record] = records(read_inputs([str(path)], ReadOptions()))
    assert record.text == "hello, there"


def test_huge_line_is_skipped_without_loading_it():
    data = b"small one\n" + b"x" * 5000 + b"\nsmall two\n"
    items = read_stream_for_tests(data, fmt="lines", max_document_bytes=1000)
    assert [r.text for r in records(items)] == ["small one", "small two"]
    [problem] = problems(items)
    assert problem.kind == "too-large" and problem.source.endswith(":2")


def test_missing_path_is_an_input_error_before_anything_is_read(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(read_inputs([str(tmp_path), str(tmp_path / "missing.txt")], ReadOptions()))


def test_stdin_auto_detects_jsonl():
    stream = io.BufferedReader(io.BytesIO(b'{"id": "x", "text": "hello"}\n'))
    [record] = list(read_inputs(["-"], ReadOptions(stdin=stream)))
    assert record.id == "x"


def test_parquet_rows_are_records_and_a_bad_file_is_one_problem(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from vecdex.indexer.readers import Problem, ReadOptions, Record, read_inputs

    rows = [{"id": 1, "text": "rain on the river", "year": 2020}, {"id": 2, "text": None, "year": 2021},
            {"id": 3, "text": "the bank raised rates", "year": 2022}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "a.parquet", row_group_size=2)
    (tmp_path / "b.parquet").write_bytes(b"not parquet at all")
    items = list(read_inputs([str(tmp_path)], ReadOptions()))
    records = [i for i in items if isinstance(i, Record)]
    problems = [i for i in items if isinstance(i, Problem)]
    assert [(r.id, r.text, r.metadata, r.source) for r in records] == [
        ("1", "rain on the river", {"year": 2020}, "a.parquet:1"),
        ("3", "the bank raised rates", {"year": 2022}, "a.parquet:3")]
    assert [(p.source, p.kind) for p in problems] == [("a.parquet:2", "missing-text"), ("b.parquet", "bad-record")]
    assert problems[1].message.startswith("not a readable Parquet file")


def test_a_parquet_file_read_in_parts_gives_the_whole_file(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from vecdex.indexer.readers import ReadOptions, list_inputs, parquet_parts, read_file

    rows = [{"id": i, "text": f"document number {i}"} for i in range(1, 101)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "a.parquet", row_group_size=30)
    [whole] = list(list_inputs([str(tmp_path / "a.parquet")], ReadOptions()))
    parts = parquet_parts(whole, 50)
    assert [p.row_groups for p in parts] == [(0, 2, 1), (2, 4, 61)]
    read = [(r.id, r.source) for part in parts for r in read_file(part, ReadOptions())]
    assert read == [(r.id, r.source) for r in read_file(whole, ReadOptions())]
    assert read[60] == ("61", f"{whole.shown}:61")
    assert parquet_parts(whole, 1000) == [whole]


@pytest.mark.parametrize("fmt", ["jsonl", "lines"])
def test_a_big_line_file_read_in_parts_gives_the_whole_file(tmp_path, fmt):
    """Parts of whole lines, each knowing its first line number: the same ids,
    sources and problems as reading the file whole (BOM, blank and bad lines included)."""
    import json as _json

    from vecdex.indexer.readers import Problem, ReadOptions, list_inputs, line_parts, read_file

    lines = []
    for i in range(200):
        if i % 37 == 5:
            lines.append("")  # blank: skipped, but counted in line numbers
        elif i % 41 == 7:
            lines.append("{not json")
        else:
            lines.append(_json.dumps({"id": f"r{i}", "text": f"text of record {i} " + "x" * (i % 13)}))
    path = tmp_path / f"big.{'jsonl' if fmt == 'jsonl' else 'txt'}"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())  # a BOM, and no final newline
    options = ReadOptions(format=fmt)
    [whole] = list(list_inputs([str(path)], options))
    parts = line_parts(whole, options, 500)
    assert len(parts) > 10 and parts[0].byte_range[0] == 0 and parts[-1].byte_range[1] == path.stat().st_size

    def shown(items):
        return [(type(i).__name__, i.source, getattr(i, "id", None), getattr(i, "text", getattr(i, "message", "")))
                for i in items]

    everything = shown(read_file(whole, options))
    assert shown(item for part in parts for item in read_file(part, options)) == everything
    assert any(kind == Problem.__name__ for kind, *_ in everything) == (fmt == "jsonl")
    assert line_parts(whole, options, 10**9) == [whole]
