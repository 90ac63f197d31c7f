"""What a store keeps, the same on SQLite and PostgreSQL (storage/text_rules.py).

NUL characters and non-finite metadata numbers: PostgreSQL cannot hold them and
a store must be copyable between the two, so neither keeps one: the readers
skip such a document as a problem (an error under --strict), every other way in
(vectors, copy) refuses the batch with a one-line InputError, store unchanged.
Metadata comes back exactly as written on both: key order and number spelling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_vecdex
from vecdex.errors import InputError, VecdexError
from vecdex.search import Vecdex
from vecdex.search.filters import FilterError

BAD = [
    {"id": "in-text", "text": "a report\x00 with a NUL"},
    {"id": "in-metadata", "text": "fine text", "metadata": {"source": "scan\x00ner"}},
    {"id": "in-key", "text": "fine text", "metadata": {"bad\x00key": 1}},
    {"id": "in-id\x00", "text": "fine text"},
]


def test_a_document_holding_nul_is_skipped_and_named_and_strict_refuses_the_batch(any_vx):
    coll = any_vx.collection("c", create=True, embedder="fake")
    report = coll.add([{"id": "ok", "text": "a good document"}, *BAD])
    assert report.added == 1
    assert sorted(p.source for p in report.problems) == sorted(d["id"] for d in BAD)
    assert all("NUL character" in p.message for p in report.problems)
    assert [d["id"] for d in coll.documents()] == ["ok"]
    seq = coll.store_seq()
    with pytest.raises(VecdexError, match=r"in-text: .*NUL character"):
        coll.add([{"id": "ok2", "text": "another good one"}, BAD[0]], strict=True)
    assert coll.count() == 1 and coll.store_seq() == seq
    assert coll.get("ok")["text"] == "a good document"


def test_vectors_with_nul_are_refused_with_one_line_naming_the_document(any_vx):
    coll = any_vx.collection("v", create=True, embedder="precomputed", dimension=4)
    coll.add_vectors(["a"], np.eye(4, dtype=np.float32)[:1], texts=["first"])
    seq = coll.store_seq()
    for ids, texts, metadata in ((["b"], ["bad\x00"], None), (["c"], ["fine"], [{"k": ["x", "y\x00"]}]),
                                 (["d\x00"], ["fine"], None)):
        with pytest.raises(InputError, match=r"^document .*NUL character[^\n]*$"):
            coll.add_vectors(ids, np.eye(4, dtype=np.float32)[1:2], texts=texts, metadata=metadata)
    assert coll.count() == 1 and coll.store_seq() == seq
    assert coll.get("d\x00") is None and coll.delete(["d\x00"]) == ["d\x00"]  # reads: simply not there
    # A literal backslash-u0000 (six characters, no NUL) is fine text
    coll.add_vectors(["e"], np.eye(4, dtype=np.float32)[2:3], texts=["C:\\u0000"], metadata=[{"p": "\\u0000"}])
    assert coll.get("e")["text"] == "C:\\u0000" and coll.get("e")["metadata"] == {"p": "\\u0000"}


def test_a_filter_holding_nul_is_a_one_line_error(any_vx):
    coll = any_vx.collection("c", create=True, embedder="fake")
    coll.add([{"id": "ok", "text": "a good document", "metadata": {"k": "v"}}])
    for where in ({"k": "v\x00"}, "k=v\x00", {"k\x00": "v"}):
        with pytest.raises(FilterError, match="NUL character"):
            coll.search("good document", k=1, where=where)


def test_the_cli_skips_a_jsonl_line_with_nul_and_strict_fails(store_target, tmp_path):
    corpus = tmp_path / "docs.jsonl"
    corpus.write_text(json.dumps({"id": "ok", "text": "good words here"}) + "\n"
                      + json.dumps({"id": "bad", "text": "bad\u0000words"}) + "\n", "utf-8")
    done = run_vecdex("index", str(corpus), "-c", "news", env={"VECDEX_DB": store_target})
    assert done.returncode == 0, done.stderr
    assert b"NUL" in done.stdout + done.stderr
    strict = run_vecdex("index", str(corpus), "-c", "strict", "--strict",
                        env={"VECDEX_DB": store_target})
    assert strict.returncode != 0 and b"NUL character" in strict.stderr
    assert strict.stderr.decode().strip().count("\n") == 0 and b"Traceback" not in strict.stderr
    with Vecdex(store_target) as vx:
        assert [d["id"] for d in vx.collection("news").documents()] == ["ok"]


def test_non_finite_metadata_numbers_are_refused(any_vx):
    coll = any_vx.collection("c", create=True, embedder="fake")
    report = coll.add([{"id": "nan", "text": "some words", "metadata": {"x": float("nan")}},
                       {"id": "inf", "text": "some words", "metadata": {"a": [1, float("-inf")]}},
                       {"id": "ok", "text": "some words", "metadata": {"x": None, "s": "NaN"}}])
    assert report.added == 1 and sorted(p.source for p in report.problems) == ["inf", "nan"]
    assert all("not JSON" in p.message for p in report.problems)
    assert coll.get("ok")["metadata"] == {"x": None, "s": "NaN"}


def test_metadata_comes_back_as_written_on_both_stores(any_vx):
    coll = any_vx.collection("c", create=True, embedder="fake")
    metadata = {"zeta": 1, "b": 2, "aa": {"y": 1e16, "x": 1e300, "n": [3, 2.5]}, "u": "\u00e9 é"}
    coll.add([{"id": "m", "text": "hello world", "metadata": metadata}])
    want = json.dumps(metadata, sort_keys=True)  # what the store was given (canonical: sorted keys)
    assert json.dumps(coll.get("m")["metadata"]) == want
    assert json.dumps(coll.search("hello world", k=1, mode="dense")[0].metadata) == want
    assert json.dumps(coll.search("hello world", k=1, mode="lexical")[0].metadata) == want
    assert json.dumps(next(iter(coll.documents()))["metadata"]) == want
    assert [h.id for h in coll.search("hello", k=1, where={"aa.y": 1e16})] == ["m"]
    assert [h.id for h in coll.search("hello", k=1, where=["aa.n=2.5", "zeta<2"])] == ["m"]
