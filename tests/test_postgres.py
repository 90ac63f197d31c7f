"""The PostgreSQL store against a real server (a fresh database per test):
migrations, ids from sequences, seq in commit order under concurrent writers,
one-line connection errors without the password, a batch cut off by a dropped
connection rolled back, and the same answers as the SQLite store."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from conftest import run_vecdex
from vecdex.errors import StoreError
from vecdex.storage.backends import open_store
from vecdex.storage.migrations import POSTGRES_LATEST_VERSION
from test_store import doc as store_doc
from vecdex.storage.store import DocumentWrite

TEXTS = [
    "Bushfires threaten homes near Sydney as winds pick up",
    "The central bank raised interest rates by a quarter point",
    "Floods cut roads in the north after a week of heavy rain",
    "The cricket team won the test match in Adelaide",
    "Firefighters battle a blaze in the Blue Mountains",
    "Shares fell on the stock exchange after the rate decision",
]


def doc(ext_id: str, text: str = "some text here") -> DocumentWrite:
    """A two-chunk document (test_store's, with its seeded vectors)."""
    return store_doc(ext_id, 2, text)


@pytest.fixture
def pg_store(pg_url):
    store = open_store(pg_url)
    yield store
    store.close()


def test_a_new_database_is_migrated_once_and_keeps_its_identity(pg_url):
    store = open_store(pg_url)
    assert store.kind == "postgresql" and store.schema_version() == POSTGRES_LATEST_VERSION
    first_id = store.store_id()
    store.close()
    again = open_store(pg_url)
    assert again.schema_version() == POSTGRES_LATEST_VERSION and again.store_id() == first_id
    assert str(again.cache_folder("faiss")).endswith(f"{first_id}/faiss")
    again.close()


def test_a_database_with_other_tables_is_refused_and_left_alone(pg_url):
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE theirs (x int)")
    with pytest.raises(StoreError, match="other tables"):
        open_store(pg_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert tables == {"theirs"}


def test_chunk_ids_come_from_the_sequence_and_upserts_log_tombstones(pg_store):
    coll = pg_store.create_collection("c", {"kind": "fake", "dimension": 4}, {"type": "flat"}, {})
    first = pg_store.write_documents(coll.id, [doc("a"), doc("b")])
    second = pg_store.write_documents(coll.id, [doc("a", "other text")])  # an update: new chunks, old ones tombstoned
    assert (first.seq, second.seq) == (1, 2) and (second.added, second.updated) == (0, 1)
    assert set(second.removed_chunk_ids) <= set(first.chunk_ids)
    assert not set(second.chunk_ids) & set(first.chunk_ids)
    seq, removed, ids, vectors, total = pg_store.vector_state(pg_store.get_collection("c"), 1)
    assert seq == 2 and sorted(removed) == sorted(second.removed_chunk_ids) and total == 4
    assert np.array_equal(ids, np.sort(second.chunk_ids))
    np.testing.assert_array_equal(vectors, doc("a", "other text").vectors)  # float32 round trip through bytea
    missing, result = pg_store.delete_documents(coll.id, ["b", "nope"])
    assert missing == ["nope"] and result.seq == 3 and pg_store.counts(coll.id) == (1, 2)


def test_concurrent_writers_never_collide_and_a_catching_up_reader_misses_no_commit(pg_url):
    """Two writers (own connections) on one collection, and a reader catching up from
    the seq it last saw, like an index cache: every chunk committed reaches it."""
    stores = [open_store(pg_url) for _ in range(3)]
    coll = stores[0].create_collection("c", {"kind": "fake", "dimension": 4}, {"type": "flat"}, {})
    results: list = []
    errors: list = []

    def write(store, prefix: str) -> None:
        try:
            for n in range(15):
                results.append(store.write_documents(coll.id, [doc(f"{prefix}{n}-{i}") for i in range(3)]))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(stores[i], p)) for i, p in ((0, "x"), (1, "y"))]
    for thread in writers:
        thread.start()
    reader, seen, covered = stores[2], set(), 0
    while any(t.is_alive() for t in writers) or covered < 30:
        seq, _removed, ids, _vectors, _total = reader.vector_state(coll, covered)
        seen.update(ids.tolist())
        covered = seq
    for thread in writers:
        thread.join()
    assert not errors
    assert sorted(r.seq for r in results) == list(range(1, 31))  # each batch its own seq
    written = np.concatenate([r.chunk_ids for r in results])
    assert len(set(written.tolist())) == len(written) == 30 * 3 * 2
    assert seen == set(written.tolist())
    for store in stores:
        store.close()


def test_a_batch_cut_off_by_a_dropped_connection_is_rolled_back(pg_store, pg_server):
    from sqlalchemy import event

    coll = pg_store.create_collection("c", {"kind": "fake", "dimension": 4}, {"type": "flat"}, {})
    pg_store.write_documents(coll.id, [doc("kept")])

    def drop_before_chunks(conn, cursor, statement, *_):
        if statement.startswith("INSERT INTO chunks"):  # documents are in, chunks not yet
            pg_server.execute("SELECT pg_terminate_backend(%s)", (conn.connection.dbapi_connection.info.backend_pid,))

    event.listen(pg_store.engine, "before_cursor_execute", drop_before_chunks)
    with pytest.raises(StoreError) as caught:
        pg_store.write_documents(coll.id, [doc(f"lost{i}") for i in range(5)])
    event.remove(pg_store.engine, "before_cursor_execute", drop_before_chunks)
    assert "\n" not in str(caught.value) and "127.0.0.1" in str(caught.value)
    assert pg_store.counts(coll.id) == (1, 2) and pg_store.get_collection("c").seq == 1
    assert pg_store.write_documents(coll.id, [doc("after")]).seq == 2  # the pool recovers


@pytest.mark.parametrize("change, expected", [
    ({"port": 1}, "PostgreSQL at"),
    ({"database": "vecdex_test_does_not_exist"}, "does not exist"),
    ({"username": "vecdex_no_such_role"}, "vecdex_no_such_role"),
])
def test_connection_problems_are_one_line_naming_the_url_without_its_password(pg_server, change, expected):
    from conftest import PG_SERVER_URL
    from sqlalchemy.engine import make_url

    url = make_url(PG_SERVER_URL).set(drivername="postgresql+psycopg", password="s3cret-pw", **change)
    url = url.set(database=change.get("database", "vecdex_test_unused"))
    text = url.render_as_string(hide_password=False)
    with pytest.raises(StoreError) as caught:
        open_store(text)
    message = str(caught.value)
    assert expected in message and "s3cret-pw" not in message and "\n" not in message
    result = run_vecdex("--db", text, "info")
    stderr = result.stderr.decode()
    assert result.returncode == 1 and stderr.startswith("vecdex: error:") and stderr.count("\n") == 1
    assert "s3cret-pw" not in stderr and "Traceback" not in stderr


def test_same_answers_from_both_stores(pg_url, tmp_path):
    """The contract: one sequence of API calls, SQLite and PostgreSQL, identical answers."""
    from vecdex.search import Vecdex

    answers = []
    for target in (str(tmp_path / "s.db"), pg_url):
        with Vecdex(target) as vx:
            c = vx.collection("news", create=True, embedder="fake")
            report = c.add([{"id": f"n{i}", "text": t, "metadata": {"i": i, "tags": ["even" if i % 2 == 0 else "odd"]}}
                            for i, t in enumerate(TEXTS)])
            again = c.add([{"id": "n0", "text": TEXTS[0], "metadata": {"i": 0, "tags": ["even"]}},
                           {"id": "n1", "text": TEXTS[1] + " again", "metadata": {"i": 1}}])
            missing = c.delete(["n5", "absent"])
            out = [(report.added, again.unchanged, again.updated, missing), c.get("n1")["text"], c.get("n5")]
            for mode in ("dense", "lexical", "hybrid"):
                for where in (None, ["tags=even"], ["i>=2"]):
                    hits = c.search("fires near Sydney rate", k=4, mode=mode, where=where)
                    out.append([(h.id, round(h.score, 5), h.snippet, h.metadata) for h in hits])
            out.append([(h.id, round(h.score, 5)) for h in c.similar("n2", k=3)])
            stats = c.stats()
            out.append((stats["documents"], stats["chunks"], stats["writes"]))
            answers.append(out)
    assert answers[0] == answers[1]


def test_the_cli_runs_on_a_url_from_the_environment(pg_url, tmp_path):
    corpus = tmp_path / "news.txt"
    corpus.write_text("\n".join(TEXTS) + "\n", "utf-8")
    env = {"VECDEX_DB": pg_url}
    indexed = run_vecdex("index", "--format", "lines", str(corpus), "-c", "news", env=env)  # GloVe 50d
    assert indexed.returncode == 0, indexed.stderr
    found = run_vecdex("query", "Bushfires threaten homes", "-c", "news", "-k", "1", "--mode", "lexical", env=env)
    assert found.returncode == 0 and "Bushfires" in found.stdout.decode()
    info = run_vecdex("info", "-c", "news", env=env)
    assert info.returncode == 0, info.stderr
    line = next(x for x in info.stdout.decode().splitlines() if x.startswith("store"))
    assert "postgresql: postgresql+psycopg://postgres" in line and "vecdex_test_" in line


KILLED_WRITER = """
import sys, time
import numpy as np
from sqlalchemy import event
from vecdex.storage.backends import open_store
from vecdex.storage.store import DocumentWrite

store = open_store(sys.argv[1])
coll = store.get_collection("c")

def stall(conn, cursor, statement, *_):
    if statement.startswith("INSERT INTO chunks"):  # documents written, the seq bumped: mid-transaction
        print("READY", flush=True)
        time.sleep(120)

event.listen(store.engine, "before_cursor_execute", stall)
store.write_documents(coll.id, [DocumentWrite(f"half{i}", "t", "{}", "h", None, [(0, 1)],
                                              np.ones((1, 4), np.float32)) for i in range(50)])
"""


def test_a_writer_killed_mid_transaction_leaves_nothing_half_written(pg_store, pg_url):
    import signal
    import subprocess
    import sys

    coll = pg_store.create_collection("c", {"kind": "fake", "dimension": 4}, {"type": "flat"}, {})
    pg_store.write_documents(coll.id, [doc("kept")])
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, pg_url], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"READY"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert pg_store.counts(coll.id) == (1, 2) and pg_store.get_collection("c").seq == 1
    # The dead writer's lock on the collection row went with its connection.
    assert pg_store.write_documents(coll.id, [doc("next")]).seq == 2
    assert pg_store.counts(coll.id) == (2, 4)


def test_a_reader_with_its_own_cache_folder_sees_every_acknowledged_write(pg_url, tmp_path, monkeypatch):
    """Two processes, two cache folders, one database: each write another process
    acknowledged is found by the very next search here that asks for it (min_seq;
    dense and lexical), the
    caches caught up from the store, never from the other process's files."""
    from vecdex.search import Vecdex

    reader_cache, writer_cache = tmp_path / "reader-cache", tmp_path / "writer-cache"
    monkeypatch.setenv("VECDEX_CACHE_DIR", str(reader_cache))
    with Vecdex(pg_url) as vx:
        for n, text in enumerate(TEXTS[:4]):
            corpus = tmp_path / f"batch{n}.jsonl"
            corpus.write_text(json.dumps({"id": f"n{n}", "text": text}) + "\n", "utf-8")
            wrote = run_vecdex("index", str(corpus), "-c", "news", env={"VECDEX_DB": pg_url,
                                                                      "VECDEX_CACHE_DIR": str(writer_cache)})
            assert wrote.returncode == 0, wrote.stderr
            news = vx.collection("news")
            written = news.store_seq()  # what the writer's last write returned
            assert news.search(text, k=1, mode="dense", min_seq=written)[0].id == f"n{n}"
            assert news.search(text, k=1, mode="lexical", min_seq=written)[0].id == f"n{n}"
        store_dir = f"stores/{vx.store.store_id()}"
    assert list((reader_cache / store_dir / "faiss").glob("*.faiss"))
    assert list((writer_cache / store_dir / "faiss").glob("*.faiss"))


def _until(condition, seconds: float = 20.0) -> bool:
    """Wait for something another thread or server does (not a timing assertion)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _warm(coll) -> None:
    """Search enough times for the store to start listening for changes."""
    from vecdex.storage.pg_changes import LISTEN_AFTER

    for _ in range(LISTEN_AFTER + 1):
        coll.search("warm up", k=1, mode="dense")


def _count_queries(store, monkeypatch) -> list[str]:
    """Every statement this store sends from now on (plain reader and SQLAlchemy)."""
    from sqlalchemy import event
    from vecdex.storage import postgres

    sent: list[str] = []
    execute = postgres._Reader.execute
    monkeypatch.setattr(postgres._Reader, "execute", lambda self, st, params=(): sent.append(st) or execute(self, st, params))
    event.listen(store.engine, "before_cursor_execute", lambda conn, cursor, st, *a: sent.append(st))
    return sent


def test_a_warm_dense_search_sends_no_query_while_changes_are_listened_for(pg_url, monkeypatch):
    """"Did anything change?" comes from change notifications, not a query per search;
    a write anywhere is then seen (its notification arrives), and this process's
    own writes at once."""
    from vecdex.search import Vecdex

    with Vecdex(pg_url) as vx, Vecdex(pg_url) as other:
        coll = vx.collection("c", create=True, embedder="fake")
        coll.add([{"id": str(i), "text": TEXTS[i]} for i in range(4)])
        coll.search("bushfires near Sydney", k=2, mode="dense")
        assert vx.store._watcher is None  # a one-shot search does not open a listening connection
        _warm(coll)
        assert _until(lambda: vx.store._watch().state() is not None)
        coll.search("bushfires near Sydney", k=2, mode="dense")
        sent = _count_queries(vx.store, monkeypatch)
        for _ in range(5):
            assert coll.search("bushfires near Sydney", k=1, mode="dense")[0].id == "0"
        # at most the hit rows (until the in-memory hit cache is built), never a change check
        assert len(sent) <= 5 and all("FROM chunks c JOIN documents d" in st for st in sent), sent
        other.collection("c").add([{"id": "x", "text": "bushfires bushfires near Sydney Sydney"}])
        assert _until(lambda: coll.search("bushfires bushfires near Sydney Sydney", k=1, mode="dense")[0].id == "x")
        coll.add([{"id": "y", "text": "interest rates rose again"}])  # own write: seen at once
        assert coll.search("interest rates rose again", k=1, mode="dense")[0].id == "y"


def test_min_seq_finds_a_commit_whose_notification_has_not_arrived(pg_url):
    """A reader that heard nothing yet (its listener frozen here) still answers a
    search with min_seq from a state covering that write: dense, lexical, hybrid."""
    from vecdex.search import Vecdex

    with Vecdex(pg_url) as reader, Vecdex(pg_url) as writer:
        w = writer.collection("c", create=True, embedder="fake", index="hnsw")
        w.add([{"id": str(i), "text": t} for i, t in enumerate(TEXTS[:4])])
        r = reader.collection("c")
        _warm(r)
        assert _until(lambda: reader.store._watch().state() is not None)
        r.search("cricket", k=1)
        frozen = reader.store._watch().state()
        reader.store._watch().state = lambda: frozen  # deaf from now on
        written = w.add([{"id": "new", "text": "Firefighters battle a blaze in the Blue Mountains"}]).seq
        assert written == w.store_seq()
        assert "new" not in {h.id for h in r.search("blaze Blue Mountains", k=5)}  # documented staleness
        for mode in ("dense", "lexical", "hybrid"):
            assert r.search("blaze Blue Mountains", k=1, mode=mode, min_seq=written)[0].id == "new", mode
        with pytest.raises(Exception, match="min_seq .* is ahead"):
            r.search("blaze", k=1, min_seq=written + 5)


def test_a_lost_listening_connection_falls_back_to_asking_and_reconnects(pg_url):
    import psycopg
    from sqlalchemy.engine import make_url
    from vecdex.search import Vecdex

    admin = make_url(pg_url).set(drivername="postgresql")
    with Vecdex(pg_url) as reader, Vecdex(pg_url) as writer:
        w = writer.collection("c", create=True, embedder="fake")
        w.add([{"id": "a", "text": TEXTS[0]}])
        r = reader.collection("c")
        _warm(r)
        watcher = reader.store._watch()
        assert _until(lambda: watcher.state() is not None)
        epoch = watcher.state()[0]
        r.search("cricket", k=1, mode="dense")
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
            killed = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                  "AND query LIKE 'LISTEN%%'", (admin.database,)).fetchall()
        assert killed == [(True,)]
        w.add([{"id": "b", "text": TEXTS[3]}])
        assert _until(lambda: r.search(TEXTS[3], k=1, mode="dense")[0].id == "b")
        assert _until(lambda: watcher.state() is not None and watcher.state()[0] > epoch)  # listening again
        w.add([{"id": "c", "text": TEXTS[2]}])
        assert _until(lambda: r.search(TEXTS[2], k=1, mode="dense")[0].id == "c")


def test_write_connections_plan_every_statement(pg_url):
    """psycopg's automatic prepared statements kept a generic plan made while the
    collection was small: a bulk load's per-batch look-up of existing ids grew from
    0.2 to 6 s by 120k documents (bench). The store's connections never prepare."""
    store = open_store(pg_url)
    try:
        with store.engine.connect() as conn:
            assert conn.connection.dbapi_connection.prepare_threshold is None
    finally:
        store.close()
