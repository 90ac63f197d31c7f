"""Collection-fitted pooling: stored vectors always match the stored pooling state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from conftest import TESTS
from vecdex.indexer.embedders.factory import embedder_from_spec
from vecdex.indexer.embedders.static import StaticEmbedder
from vecdex.search import Vecdex
from vecdex.storage.store import CollectionChangedError, DocumentWrite, StaleEmbedderError, blobs_to_matrix

TOPICS = ["the river flooded the valley after heavy rain", "the bank raised interest rates again",
          "astronauts launched a rocket into orbit", "the team won the football final",
          "doctors found a new treatment for the disease"]


def docs(n, offset=0):
    return [{"id": f"d{i + offset}", "text": f"{TOPICS[i % len(TOPICS)]} report number {i + offset}"} for i in range(n)]


def stored_matches_spec(vx, name) -> bool:
    """Re-embed every stored chunk with the stored spec and compare with the stored vectors."""
    info = vx.store.get_collection(name)
    embedder = embedder_from_spec(info.embedder)
    with vx.store.reading() as conn:
        rows = conn.exec_driver_sql(
            'SELECT substr(d.text, c.start + 1, c."end" - c.start), c.vector FROM chunks c '
            "JOIN documents d ON d.id = c.document_id WHERE c.collection_id = ? ORDER BY c.id", (info.id,)).all()
    stored = blobs_to_matrix([r[1] for r in rows], embedder.dimension)
    fresh = embedder.embed([r[0] for r in rows]).vectors
    return bool(np.allclose(stored, fresh, atol=1e-5))


def test_collection_fit_waits_for_enough_text_then_refits_as_it_doubles(vx):
    coll = vx.collection("c", create=True, fit="collection")
    coll.add(docs(5))
    assert "components" not in coll.info.embedder["fitted"]  # 5 chunks: too few to fit a component
    assert stored_matches_spec(vx, "c")
    generation = coll.info.generation
    coll.add(docs(30, offset=5))
    fitted = coll.info.embedder["fitted"]
    assert fitted["documents"] == 35 and fitted["components"]
    assert coll.info.generation > generation  # the old FAISS files are retired
    assert stored_matches_spec(vx, "c")
    coll.add(docs(10, offset=35))  # 45 < 2 * 35: no refit, the new documents use the stored state
    assert coll.info.embedder["fitted"]["documents"] == 35
    assert stored_matches_spec(vx, "c")
    assert coll.search("rocket launch", 1, mode="dense")[0].id in {f"d{i}" for i in range(2, 45, 5)}


def test_a_write_embedded_with_an_outdated_state_is_refused(vx):
    coll = vx.collection("c", create=True, fit="collection")
    coll.add(docs(30))
    old_spec = dict(coll.info.embedder)
    coll.add(docs(40, offset=30))  # doubled: refitted
    assert coll.info.embedder != old_spec
    write = DocumentWrite("x", "text", "{}", "h", None, [(0, 4)], np.ones((1, 50), dtype=np.float32) / np.sqrt(50))
    with pytest.raises(StaleEmbedderError):
        vx.store.write_documents(coll.info.id, [write], old_spec)
    assert vx.store.get_document(coll.info.id, "x") is None


def test_a_failed_refit_changes_nothing(vx, monkeypatch):
    coll = vx.collection("c", create=True, fit="collection")
    coll.add(docs(30))
    before = vx.store.get_collection("c")

    def explode(self, texts):
        raise RuntimeError("crash in the middle of a refit")

    with monkeypatch.context() as patch:
        patch.setattr(StaticEmbedder, "embed", explode)
        with pytest.raises(RuntimeError):
            coll.refit()
    after = vx.store.get_collection("c")
    assert (after.embedder, after.generation, after.seq) == (before.embedder, before.generation, before.seq)
    assert stored_matches_spec(vx, "c")


def test_writers_go_on_while_a_refit_embeds_and_the_refit_redoes_what_changed(vx, db_path, monkeypatch):
    """The refit embeds outside any transaction: another connection adds documents
    meanwhile (it would wait for the whole re-embedding under a write lock), and the
    refit, seeing the collection changed, starts over, so its state covers them."""
    coll = vx.collection("c", create=True, fit="collection")
    coll.add(docs(30))
    embed = StaticEmbedder.embed
    calls = []

    def embed_while_another_writer_adds(self, texts):
        calls.append(len(texts))
        if len(calls) == 1:
            done = threading.Event()

            def other_writer():
                with Vecdex(db_path) as other:
                    other.collection("c").add(docs(3, offset=100))
                done.set()

            thread = threading.Thread(target=other_writer)
            thread.start()
            thread.join(timeout=20)
            assert done.is_set(), "the other writer was blocked by the refit"
        return embed(self, texts)

    monkeypatch.setattr(StaticEmbedder, "embed", embed_while_another_writer_adds)
    result = coll.refit()
    monkeypatch.setattr(StaticEmbedder, "embed", embed)
    assert result["refitted"] and result["chunks"] == 33
    assert calls[0] == 30 and 33 in calls[1:]  # redone on the 33 chunks now stored
    assert coll.info.embedder["fitted"]["documents"] == 33
    assert stored_matches_spec(vx, "c")


def test_a_refit_that_never_finds_a_quiet_moment_writes_nothing(vx, monkeypatch):
    coll = vx.collection("c", create=True, fit="collection")
    coll.add(docs(30))
    before = vx.store.get_collection("c")
    embed = StaticEmbedder.embed
    other = Vecdex(vx.store.path)
    writes = iter(range(1000, 2000))

    busy = []

    def embed_and_write(self, texts):
        if not busy:  # the refit's embedding, not the other writer's own
            busy.append(True)
            other.collection("c").add(docs(1, offset=next(writes)))  # always a write in between
            busy.pop()
        return embed(self, texts)

    monkeypatch.setattr(StaticEmbedder, "embed", embed_and_write)
    with pytest.raises(CollectionChangedError, match="kept changing"):
        coll.refit()
    monkeypatch.setattr(StaticEmbedder, "embed", embed)
    other.close()
    after = vx.store.get_collection("c")
    assert (after.embedder, after.generation) == (before.embedder, before.generation)
    assert stored_matches_spec(vx, "c")


def test_a_refit_killed_with_sigkill_leaves_a_consistent_store(tmp_path):
    db = tmp_path / "refit.db"
    with Vecdex(db) as vx:
        coll = vx.collection("default", create=True, fit="collection")
        coll.add(docs(20_000), workers=1)
        assert coll.info.embedder["fitted"]["documents"] == 20_000
        with vx.store.writing() as conn:  # make the next refit compute a different state
            conn.exec_driver_sql("UPDATE documents SET text = text || ' extra words here' WHERE id % 2 = 0")
    script = ("from vecdex import Vecdex; import sys; vx = Vecdex(sys.argv[1]); "
              "print('go', flush=True); vx.collection().refit()")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-c", script, str(db)], env=env, stdout=subprocess.PIPE)
    try:
        assert process.stdout.readline().strip() == b"go"
        time.sleep(0.5)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    with Vecdex(db) as vx:
        # Either the old state with all old vectors, or the new state with all new ones.
        info = vx.store.get_collection("default")
        embedder = embedder_from_spec(info.embedder)
        with vx.store.reading() as conn:
            rows = conn.exec_driver_sql(
                "SELECT d.text, c.vector FROM chunks c JOIN documents d ON d.id = c.document_id "
                "WHERE d.id IN (1, 2, 3, 4) ORDER BY d.id").all()
        stored = blobs_to_matrix([r[1] for r in rows], embedder.dimension)
        if info.generation == 1:  # the refit had not committed: old vectors of the unchanged texts
            assert np.allclose(stored[0], embedder.embed([rows[0][0]]).vectors[0], atol=1e-5)
        else:
            assert np.allclose(stored, embedder.embed([r[0] for r in rows]).vectors, atol=1e-5)
        assert vx.collection().search("rocket", 3, mode="dense")
