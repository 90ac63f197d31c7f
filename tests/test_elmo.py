"""ELMo embedder: a tiny model with the google/elmo/3 interface, built once per session."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("tensorflow_hub")

from vecdex.indexer.embedders import elmo as elmo_mod  # noqa: E402
from vecdex.indexer.embedders.base import EmbedderError  # noqa: E402
from vecdex.indexer.embedders.elmo import DEFAULT_HANDLE, ElmoEmbedder, LayerMix  # noqa: E402
from vecdex.indexer.embedders.elmo_testing import TINY, build_elmo_savedmodel  # noqa: E402
from vecdex.indexer.embedders.factory import create_embedder  # noqa: E402
from vecdex.search import ModelMismatchError, Vecdex  # noqa: E402
from vecdex.search.workbench.compare import CompareError, compare_word  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
BANK_MONEY = "I went to the bank to deposit money."
BANK_RIVER = "The river bank was full of trees."
SENTENCES = [
    "The cat sat on the mat.",
    "A long sentence about the history of the river valley and the people who lived along its banks for centuries.",
    "Hi.",
    BANK_MONEY,
    "Markets fell sharply on Monday after the announcement, traders said.",
    BANK_RIVER,
    "Why?",
]


@pytest.fixture(scope="session")
def elmo_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny ELMo-interface SavedModels: seed 0, seed 0 with only `default`, seed 1."""
    root = tmp_path_factory.mktemp("elmo-models")
    return {
        "tiny": build_elmo_savedmodel(root / "tiny", TINY, seed=0),
        "default_only": build_elmo_savedmodel(root / "default-only", TINY, seed=0, signatures=("default",)),
        "other": build_elmo_savedmodel(root / "other", TINY, seed=1),
        "hub_v1": build_elmo_savedmodel(root / "hub-v1", TINY, seed=0, hub_v1=True),
    }


@pytest.fixture(scope="session")
def tiny(elmo_models) -> Path:
    return elmo_models["tiny"]


@pytest.fixture()
def embedder(tiny) -> ElmoEmbedder:
    return create_embedder("elmo", model=str(tiny))


def _raw_outputs(model_dir: Path, tokens: list[str]) -> dict[str, np.ndarray]:
    """The module's own outputs for one sentence, called straight through TensorFlow."""
    import tensorflow as tf

    fn = tf.saved_model.load(str(model_dir)).signatures["tokens"]
    out = fn(tokens=tf.constant([tokens]), sequence_len=tf.constant([len(tokens)], dtype=tf.int32))
    return {k: v.numpy()[0] for k, v in out.items()}


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


# -- loading ------------------------------------------------------------------------------


def test_model_is_small(tiny):
    size = sum(f.stat().st_size for f in tiny.rglob("*") if f.is_file())
    assert size < 5 * 1024 * 1024


def test_load_by_local_path_records_what_reproduces_the_vectors(embedder, tiny):
    spec = embedder.spec
    assert spec["kind"] == "elmo"
    assert spec["model"] == str(tiny.resolve())
    assert spec["fingerprint"].startswith("sha256:")
    assert spec["dimension"] == 2 * TINY.projection  # the `elmo` output is as wide as the biLSTM
    assert spec["layers"] == "elmo" and spec["pooling"] == "mean"
    assert spec["tokenizer"] == elmo_mod.TOKENIZER_NAME
    assert spec["signature"] == "tokens"
    assert embedder.default_chunking.unit == "sentence"


def test_load_by_url_from_prefilled_tfhub_cache(tiny, embedder, tmp_path, monkeypatch):
    cache = tmp_path / "hub-cache"
    key = hashlib.sha1(DEFAULT_HANDLE.encode("utf8")).hexdigest()
    shutil.copytree(tiny, cache / key)
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))

    def no_network(*args, **kwargs):
        raise AssertionError("a cached model must load without touching the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    from_url = create_embedder("elmo")  # the default handle
    assert from_url.spec["model"] == DEFAULT_HANDLE
    assert from_url.spec["fingerprint"] == embedder.spec["fingerprint"]
    np.testing.assert_allclose(from_url.embed(SENTENCES).vectors, embedder.embed(SENTENCES).vectors, atol=1e-6)

    # and tensorflow_hub itself agrees on where that cache entry lives
    import tensorflow_hub as hub

    assert Path(hub.resolve(DEFAULT_HANDLE)) == cache / key


def test_uncached_unreachable_url_fails_fast_with_a_way_out(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setattr(elmo_mod, "CONNECT_TIMEOUT_S", 0.5)

    def hang(*args, **kwargs):  # a network that never answers (then fails, long after the test)
        time.sleep(60)
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    started = time.monotonic()
    with pytest.raises(EmbedderError) as err:
        create_embedder("elmo", model="https://tfhub.dev/google/elmo/3")
    assert time.monotonic() - started < 10
    message = str(err.value)
    assert "--model" in message and "TFHUB_CACHE_DIR" in message
    assert hashlib.sha1(DEFAULT_HANDLE.encode()).hexdigest() in message


def test_refused_connection_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "empty-cache"))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(EmbedderError, match="unreachable"):
        create_embedder("elmo", model=f"http://127.0.0.1:{port}/google/elmo/3")


def test_bad_local_paths(tmp_path):
    with pytest.raises(EmbedderError, match="no ELMo model"):
        create_embedder("elmo", model=str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmbedderError, match="not a TensorFlow SavedModel"):
        create_embedder("elmo", model=str(tmp_path / "empty"))


def test_missing_extra_says_what_to_install(tiny):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["tensorflow"] = None  # as if the [elmo] extra were not installed
        from vecdex.indexer.embedders.base import EmbedderError
        from vecdex.indexer.embedders.factory import create_embedder
        try:
            create_embedder("elmo", model={str(tiny)!r})
        except EmbedderError as exc:
            print(exc)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(TESTS)})
    assert "pip install 'vecdex[elmo]'" in out.stdout, out.stderr


# -- vectors --------------------------------------------------------------------------------


def test_pooled_vector_is_mean_of_elmo_over_real_tokens(embedder, tiny):
    sentence = BANK_MONEY
    tokens = embedder.tokenize(sentence)
    assert tokens == ["I", "went", "to", "the", "bank", "to", "deposit", "money", "."]
    raw = _raw_outputs(tiny, tokens)
    expected = _unit(raw["elmo"][: len(tokens)].mean(axis=0))
    np.testing.assert_allclose(embedder.embed([sentence]).vectors[0], expected, atol=1e-6)
    # the module's own "default" output is that same mean
    np.testing.assert_allclose(_unit(raw["default"]), expected, atol=1e-6)


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_sentence_alone_equals_sentence_in_padded_batch(tiny, pooling):
    # one batch, padded to the longest; max pooling would also see any padded row
    embedder = create_embedder("elmo", model=str(tiny), bucket=False, pooling=pooling)
    alone = embedder.embed([BANK_MONEY]).vectors[0]
    batch = embedder.embed([SENTENCES[1], BANK_MONEY, "Hi."])
    assert len(embedder.tokenize(SENTENCES[1])) > len(embedder.tokenize(BANK_MONEY))
    np.testing.assert_allclose(batch.vectors[1], alone, atol=1e-5)
    np.testing.assert_allclose(batch.vectors[2], embedder.embed(["Hi."]).vectors[0], atol=1e-5)


def test_the_two_banks_differ(embedder, tiny):
    result = compare_word(embedder, BANK_MONEY, BANK_RIVER, "bank")
    assert result.contextual and result.positions == (4, 2)
    assert result.cosine < 0.999
    # each is the word's row of the module's `elmo` output for its sentence
    vectors = []
    for sentence, position in ((BANK_MONEY, 4), (BANK_RIVER, 2)):
        row = _raw_outputs(tiny, embedder.tokenize(sentence))["elmo"][position]
        np.testing.assert_allclose(dict(embedder.word_vectors(sentence))["bank"], row, atol=1e-6)
        vectors.append(row)
    assert result.cosine == pytest.approx(float(_unit(vectors[0]) @ _unit(vectors[1])), abs=1e-6)
    # and the sentences' pooled vectors differ too
    pooled = embedder.embed([BANK_MONEY, BANK_RIVER]).vectors
    assert float(pooled[0] @ pooled[1]) < 0.999


def test_static_model_gives_the_same_vector_in_both_contexts():
    glove = create_embedder("static")
    result = compare_word(glove, BANK_MONEY, BANK_RIVER, "bank")
    assert not result.contextual
    assert result.cosine == pytest.approx(1.0, abs=1e-6)


def test_compare_word_must_be_in_both_sentences(embedder):
    with pytest.raises(CompareError, match="sentence 2"):
        compare_word(embedder, BANK_MONEY, "The river was full of trees.", "bank")


def test_bucketed_batches_return_vectors_in_input_order(tiny):
    embedder = create_embedder("elmo", model=str(tiny), batch_size=2)
    lengths = [len(embedder.tokenize(s)) for s in SENTENCES]
    batches = list(embedder.batches(lengths))
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(SENTENCES))) and flat != list(range(len(SENTENCES)))
    assert [lengths[i] for i in flat] == sorted(lengths)  # grouped by length
    together = embedder.embed(SENTENCES).vectors
    for i, sentence in enumerate(SENTENCES):
        np.testing.assert_allclose(together[i], embedder.embed([sentence]).vectors[0], atol=1e-5)


def test_batches_respect_limits_and_bucketing_cuts_padding(tiny, lee_background):
    from sentence_splitter import SentenceSplitter

    splitter = SentenceSplitter("en")
    lines = lee_background.read_text("utf-8").splitlines()[:40]
    sentences = [s for line in lines for s in splitter.split(line) if s.strip()]
    padded = {}
    for bucket in (False, True):
        embedder = create_embedder("elmo", model=str(tiny), batch_size=32, max_batch_tokens=600, bucket=bucket)
        lengths = [len(embedder.tokenize(s)) for s in sentences]
        batches = list(embedder.batches(lengths))
        assert sorted(i for b in batches for i in b) == list(range(len(sentences)))
        assert all(len(b) <= 32 and len(b) * max(lengths[i] for i in b) <= 600 for b in batches)
        padded[bucket] = sum(len(b) * max(lengths[i] for i in b) for b in batches) / sum(lengths)
    assert padded[True] < 1.15 < 1.5 < padded[False]


def _all_cuts(n: int):
    """Every way to cut n sorted texts into consecutive runs (2**(n-1) of them)."""
    for mask in range(2 ** (n - 1)):
        bounds = [0] + [i + 1 for i in range(n - 1) if mask >> i & 1] + [n]
        yield list(zip(bounds, bounds[1:]))


@pytest.mark.parametrize("seed", range(5))
def test_bucket_batches_are_the_cheapest_cut_within_limits(seed):
    from vecdex.indexer.embedders.elmo import batch_cost, bucket_batches

    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 60, size=11).tolist()
    max_size, max_tokens = 5, 150
    batches = bucket_batches(lengths, max_size, max_tokens)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) <= max_size and len(b) * max(lengths[i] for i in b) <= max_tokens for b in batches)
    got = sum(batch_cost(len(b), max(lengths[i] for i in b)) for b in batches)
    widths = sorted(lengths)
    feasible = [sum(batch_cost(j - i, widths[j - 1]) for i, j in cut) for cut in _all_cuts(len(widths))
                if all(j - i <= max_size and (j - i) * widths[j - 1] <= max_tokens for i, j in cut)]
    assert got == pytest.approx(min(feasible))


def test_bucket_batches_skip_empty_texts_and_let_an_overlong_one_go_alone():
    from vecdex.indexer.embedders.elmo import bucket_batches

    batches = bucket_batches([3, 0, 500, 4, 2], max_size=8, max_tokens=100)
    assert [2] in batches and sorted(i for b in batches for i in b) == [0, 2, 3, 4]


def test_empty_text_is_not_known(embedder):
    result = embedder.embed(["", "...", "Words here."])
    assert result.known.tolist() == [False, True, True]  # punctuation is a token for ELMo
    assert not result.vectors[0].any()


def test_layer_choice_weights_and_max_pooling(tiny):
    raw = _raw_outputs(tiny, ["The", "river", "bank", "."])
    text = "The river bank."

    word = create_embedder("elmo", model=str(tiny), layer="word_emb")
    assert word.dimension == TINY.projection
    np.testing.assert_allclose(word.embed([text]).vectors[0], _unit(raw["word_emb"].mean(0)), atol=1e-6)

    weights = create_embedder("elmo", model=str(tiny), layer="0.2,0.3,0.5")
    assert weights.spec["layers"] == {"word_emb": 0.2, "lstm_outputs1": 0.3, "lstm_outputs2": 0.5}
    assert weights.dimension == 2 * TINY.projection
    mixed = 0.2 * np.concatenate([raw["word_emb"]] * 2, axis=1) + 0.3 * raw["lstm_outputs1"] + 0.5 * raw["lstm_outputs2"]
    np.testing.assert_allclose(weights.embed([text]).vectors[0], _unit(mixed.mean(0)), atol=1e-6)

    top_max = create_embedder("elmo", model=str(tiny), layer="lstm_outputs2", pooling="max")
    np.testing.assert_allclose(top_max.embed([text]).vectors[0], _unit(raw["lstm_outputs2"].max(0)), atol=1e-6)

    with pytest.raises(EmbedderError, match="unknown ELMo layer"):
        LayerMix.parse("lstm_outputs3")
    with pytest.raises(EmbedderError, match="pooling"):
        create_embedder("elmo", model=str(tiny), pooling="median")


def test_tf1_hub_format_module_loads_like_google_elmo_3(elmo_models):
    """google/elmo/3 is a TF1 Hub module; the same network in that format gives the same vectors."""
    assert (elmo_models["hub_v1"] / "tfhub_module.pb").exists()
    v1 = create_embedder("elmo", model=str(elmo_models["hub_v1"]))
    v2 = create_embedder("elmo", model=str(elmo_models["tiny"]))
    assert v1.spec["signature"] == "tokens" and v1.dimension == v2.dimension
    np.testing.assert_allclose(v1.embed(SENTENCES).vectors, v2.embed(SENTENCES).vectors, atol=1e-5)


def test_default_signature_fallback_gives_the_same_vectors(elmo_models):
    via_tokens = create_embedder("elmo", model=str(elmo_models["tiny"]))
    via_default = create_embedder("elmo", model=str(elmo_models["default_only"]))
    assert via_default.spec["signature"] == "default"
    np.testing.assert_allclose(via_default.embed(SENTENCES).vectors, via_tokens.embed(SENTENCES).vectors, atol=1e-5)


# -- end to end ------------------------------------------------------------------------------

DOCS = [
    ("money", "I went to the bank to deposit money. The teller counted the notes twice."),
    ("river", "The river bank was full of trees. Herons waited in the shallow water."),
    ("market", "Markets fell sharply on Monday after the announcement, traders said."),
    ("cat", "The cat sat on the mat. It did not move all afternoon."),
]


def test_index_query_similar_delete_on_an_elmo_collection(tiny, tmp_path):
    db = tmp_path / "elmo.db"
    with Vecdex(db) as vx:
        docs = vx.collection("elmo", create=True, embedder="elmo", model=str(tiny))
        report = docs.add([{"id": i, "text": t, "metadata": {"topic": i}} for i, t in DOCS])
        assert report.added == len(DOCS)
        stats = docs.stats()
        assert stats["documents"] == 4 and stats["chunks"] == 7  # one chunk per sentence
        assert stats["chunking"]["unit"] == "sentence"
        assert stats["embedder"]["kind"] == "elmo"

    with Vecdex(db) as vx:  # a fresh process-like open: the embedder comes from the stored spec
        docs = vx.collection("elmo")
        # a sentence that is a chunk of "river" has cosine 1 with that chunk
        hits = docs.search("Herons waited in the shallow water.", k=2, mode="dense")  # hybrid scores are fused
        assert hits[0].id == "river" and hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert "Herons" in hits[0].snippet
        similar = docs.similar("money", k=3)
        assert "money" not in [h.id for h in similar] and len(similar) == 3
        assert docs.add([{"id": i, "text": t, "metadata": {"topic": i}} for i, t in DOCS]).unchanged == 4
        assert docs.delete(["river"]) == []
        assert "river" not in [h.id for h in docs.search("Herons waited in the shallow water.", k=4)]
        assert docs.stats()["documents"] == 3


def test_model_mismatch_is_refused(elmo_models, tmp_path):
    db = tmp_path / "elmo.db"
    with Vecdex(db) as vx:
        vx.collection("elmo", create=True, embedder="elmo", model=str(elmo_models["tiny"])).add(DOCS[:2])
        with pytest.raises(ModelMismatchError):
            vx.collection("elmo", embedder="elmo", model=str(elmo_models["other"]))
        with pytest.raises(ModelMismatchError):  # same model, other pooling: incomparable vectors
            vx.collection("elmo", embedder="elmo", model=str(elmo_models["tiny"]), pooling="max")
        with pytest.raises(ModelMismatchError):
            vx.collection("elmo", embedder="static")
        vx.collection("elmo", embedder="elmo", model=str(elmo_models["tiny"]))  # the same one is fine


def test_changed_model_files_are_refused_at_query_time(elmo_models, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(elmo_models["tiny"], model)
    db = tmp_path / "elmo.db"
    with Vecdex(db) as vx:
        vx.collection("elmo", create=True, embedder="elmo", model=str(model)).add(DOCS[:2])
    shutil.rmtree(model)
    shutil.copytree(elmo_models["other"], model)
    from vecdex.indexer.embedders import factory

    factory._model_cache.clear()  # as in a new process
    with Vecdex(db) as vx:
        with pytest.raises(EmbedderError, match="not the one this collection was built with"):
            vx.collection("elmo").search("river", k=1)


# -- TensorFlow stays out of everything else ---------------------------------------------------


def test_glove_collection_never_imports_tensorflow(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        from vecdex.search import Vecdex
        with Vecdex({str(tmp_path / 'glove.db')!r}) as vx:
            docs = vx.collection("default", create=True)
            docs.add([("a", "The river bank flooded after the storm."), ("b", "Stocks fell on Monday.")])
            hits = docs.search("flood", k=1)
            assert hits[0].id == "a", hits
            docs.stats()
        print("tensorflow" in sys.modules, "tensorflow_hub" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(TESTS)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


# -- the command line ----------------------------------------------------------------------------


def _cli(*args: str, db: Path | None = None):
    from click.testing import CliRunner
    from vecdex.cli import main

    return CliRunner().invoke(main, (["--db", str(db)] if db else []) + list(args))


def test_cli_index_query_similar_delete_on_elmo(tiny, tmp_path):
    import json

    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in DOCS), "utf-8")
    db = tmp_path / "cli.db"
    result = _cli("index", str(jsonl), "--embedder", "elmo", "--model", str(tiny), "-c", "ctx", db=db)
    assert result.exit_code == 0, result.output
    assert "4 added" in result.output
    info = json.loads(_cli("info", "-c", "ctx", "--json", db=db).output)
    assert info["embedder"]["kind"] == "elmo" and info["chunks"] == 7 and info["chunking"]["unit"] == "sentence"
    out = _cli("query", "The teller counted the notes twice.", "-c", "ctx", "-k", "1", "--mode", "dense", "--json",
               db=db)
    assert out.exit_code == 0, out.output
    hit = json.loads(out.output)
    assert hit["id"] == "money" and hit["score"] == pytest.approx(1.0, abs=1e-5)
    similar = [json.loads(line)["id"] for line in _cli("similar", "cat", "-c", "ctx", "--json", db=db).output.splitlines()]
    assert sorted(similar) == ["market", "money", "river"]
    # re-running without --embedder keeps the collection's model (nothing re-embedded)
    again = _cli("index", str(jsonl), "-c", "ctx", db=db)
    assert again.exit_code == 0 and "4 unchanged" in again.output, again.output
    # another pooling on the same collection is refused, and says why
    refused = _cli("index", str(jsonl), "--embedder", "elmo", "--model", str(tiny), "--pooling", "max", "-c", "ctx", db=db)
    assert refused.exit_code == 1 and "pooling max (collection: mean)" in refused.output
    assert _cli("delete", "cat", "-c", "ctx", db=db).exit_code == 0
    assert json.loads(_cli("info", "-c", "ctx", "--json", db=db).output)["documents"] == 3


def test_cli_queries_file_is_embedded_in_batches_with_the_same_answers(tiny, tmp_path):
    import json

    db = tmp_path / "q.db"
    with Vecdex(db) as vx:
        vx.collection("ctx", create=True, embedder="elmo", model=str(tiny)).add(DOCS)
    questions = ["Herons waited in the shallow water.", "...", "It did not move all afternoon.", "Markets fell."]
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(questions) + "\n", "utf-8")
    result = _cli("query", "--queries", str(path), "-c", "ctx", "-k", "2", "--json", db=db)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["query"] for r in rows] == [q for q in questions for _ in range(2)]
    for question in questions:
        alone = json.loads(_cli("query", question, "-c", "ctx", "-k", "1", "--json", db=db).output.splitlines()[0])
        first = next(r for r in rows if r["query"] == question)
        assert (first["id"], first["score"]) == pytest.approx((alone["id"], alone["score"]), abs=1e-5)


def test_cli_compare_contextual_and_static(tiny):
    import json

    elmo = _cli("compare", BANK_MONEY, BANK_RIVER, "--word", "bank", "--embedder", "elmo", "--model", str(tiny), "--json")
    assert elmo.exit_code == 0, elmo.output
    row = json.loads(elmo.output)
    assert row["contextual"] is True and row["cosine"] < 0.999 and row["positions"] == [4, 2]
    static = _cli("compare", BANK_MONEY, BANK_RIVER, "--word", "bank")
    assert static.exit_code == 0 and static.output.startswith("1.0000"), static.output
    missing = _cli("compare", BANK_MONEY, "No such word here.", "--word", "bank")
    assert missing.exit_code == 1 and "not a word of sentence 2" in missing.output
    assert "Examples:" in _cli("compare", "--help").output


def test_cli_elmo_offline_url_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "empty"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = _cli("index", "-", "--format", "lines", "--embedder", "elmo", "--model", f"http://127.0.0.1:{port}/elmo/3",
                  db=tmp_path / "x.db")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "--model /path/to/elmo" in result.output


def test_help_info_glove_query_and_static_compare_do_not_import_tensorflow(tmp_path, tiny):
    db = tmp_path / "glove.db"
    elmo_db = tmp_path / "elmo.db"
    with Vecdex(elmo_db) as vx:  # info/collections on an ELMo collection need no model either
        vx.collection("ctx", create=True, embedder="elmo", model=str(tiny)).add(DOCS[:2])
    corpus = tmp_path / "c.txt"
    corpus.write_text("The river bank flooded after the storm.\nStocks fell on Monday.\n", "utf-8")
    probe = ("import sys\nfrom vecdex import cli\ntry:\n    cli.main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    assert not e.code, e.code\n"
             "print('TF-IMPORTED' if 'tensorflow' in sys.modules else 'NO-TF')")
    runs = [["--help"], ["compare", "--help"], ["index", "--help"],
            ["--db", str(db), "index", "--format", "lines", str(corpus), "-q"],
            ["--db", str(db), "query", "flood"], ["--db", str(db), "info"],
            ["--db", str(elmo_db), "info", "-c", "ctx"], ["--db", str(elmo_db), "collections"],
            ["compare", BANK_MONEY, BANK_RIVER, "--word", "bank"]]
    for args in runs:
        out = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "PYTHONPATH": str(TESTS)}, cwd=tmp_path)
        assert out.stdout.strip().endswith("NO-TF"), (args, out.stdout[-300:], out.stderr[-500:])


def test_console_script_on_elmo_keeps_tensorflow_chatter_off_stderr(tiny, tmp_path):
    from conftest import run_vecdex

    lines = tmp_path / "lines.txt"
    lines.write_text("\n".join(text for _, text in DOCS) + "\n", "utf-8")
    db = tmp_path / "script.db"
    result = run_vecdex("index", str(lines), "--format", "lines", "--embedder", "elmo", "--model", str(tiny), db=db)
    assert result.returncode == 0, result.stderr.decode()[-800:]
    assert b"4 added" in result.stdout
    assert result.stderr.decode().strip() == "", result.stderr.decode()[-800:]  # no oneDNN/CUDA start-up lines
    result = run_vecdex("query", "Herons waited in the shallow water.", "-k", "1", "--json", db=db)
    assert result.returncode == 0 and b'"id": "2"' in result.stdout, result.stdout
    assert result.stderr.decode().strip() == ""
