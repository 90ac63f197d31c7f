"""The store and its caches: files that are not ours are never written, caches
belong to one store, read-only stores answer queries, deletes cost other
processes no rebuild, commits are durable by default."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from conftest import run_vecdex

from vecdex.errors import StoreError
from vecdex.search import Vecdex
from vecdex.storage.index_cache import IndexCache
from vecdex.storage.store import Store

LINES = ["the river flooded the town after heavy rain", "election results were announced today",
         "a bushfire threatens homes in the hills", "the central bank raised interest rates",
         "the team won the football final", "scientists found water on the moon"]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def siblings(path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name))


# -- files that are not ours ----------------------------------------------------------------


@pytest.mark.parametrize("command", [["info"], ["query", "river"], ["delete", "x"], ["index", "IN", "--format", "lines"]])
def test_a_foreign_sqlite_database_is_never_written(tmp_path, command):
    db = tmp_path / "theirs.db"
    with sqlite3.connect(db) as raw:
        raw.execute("CREATE TABLE notes (body TEXT)")
        raw.execute("INSERT INTO notes VALUES ('keep me')")
    raw.close()
    before, files = digest(db), siblings(db)
    (tmp_path / "in.txt").write_text("\n".join(LINES))
    args = [str(tmp_path / "in.txt") if a == "IN" else a for a in command]
    result = run_vecdex(*args, db=db)
    assert result.returncode == 1
    assert result.stderr.decode().strip() == f"vecdex: error: {db} is an SQLite database but not a vecdex store"
    assert digest(db) == before and siblings(db) == files  # no WAL switch, no -wal/-shm


@pytest.mark.parametrize("content", [b"", "sqlite-empty"])
@pytest.mark.parametrize("command", [["info"], ["query", "river"], ["delete", "x"]])
def test_reading_commands_never_make_a_store_of_an_empty_file(tmp_path, content, command):
    db = tmp_path / "empty.db"
    if content == "sqlite-empty":
        sqlite3.connect(db).execute("VACUUM").connection.close()  # a valid SQLite file without tables
    else:
        db.write_bytes(content)
    before, files = digest(db), siblings(db)
    result = run_vecdex(*command, db=db)
    assert result.returncode == 1
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "not a vecdex store" in lines[0], lines
    assert digest(db) == before and siblings(db) == files


def test_a_writing_command_may_make_a_store_of_an_empty_file(tmp_path):
    db = tmp_path / "empty.db"
    db.write_bytes(b"")
    (tmp_path / "in.txt").write_text("\n".join(LINES))
    assert run_vecdex("index", str(tmp_path / "in.txt"), "--format", "lines", "-q", db=db).returncode == 0
    assert run_vecdex("query", "flood", db=db).returncode == 0


def test_a_damaged_schema_version_is_one_line(tmp_path):
    db = tmp_path / "s.db"
    Vecdex(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE vecdex_meta SET value = 'two' WHERE key = 'schema_version'")
    raw.close()
    result = run_vecdex("info", db=db)
    assert result.returncode == 1
    assert result.stderr.decode().strip().splitlines() == [
        f"vecdex: error: {db}: its schema version 'two' is not a number (a damaged or foreign vecdex_meta table)"]
    with pytest.raises(StoreError):
        Store(db)


def test_a_text_file_is_not_a_store(tmp_path):
    db = tmp_path / "notes.txt"
    db.write_text("hello\n")
    result = run_vecdex("info", db=db)
    assert result.returncode == 1 and "not an SQLite database" in result.stderr.decode()
    assert db.read_text() == "hello\n"


# -- read-only media ---------------------------------------------------------------------------


def _read_only_mount_works(folder) -> bool:
    probe = subprocess.run(["unshare", "--mount", "sh", "-c",
                            f"mount --bind {folder} {folder} && mount -o remount,ro,bind {folder} {folder}"],
                           capture_output=True)
    return probe.returncode == 0


def test_a_store_on_a_read_only_mount_can_be_queried(tmp_path):
    if shutil.which("unshare") is None or not _read_only_mount_works(tmp_path):
        pytest.skip("cannot make a read-only mount here (needs unshare and mount privileges)")
    media = tmp_path / "media"
    media.mkdir()
    db = media / "s.db"
    (tmp_path / "in.txt").write_text("\n".join(LINES))
    assert run_vecdex("index", str(tmp_path / "in.txt"), "--format", "lines", "-q", db=db).returncode == 0
    assert run_vecdex("delete", "2", db=db).returncode == 0  # the file is behind: the query must catch up
    shutil.rmtree(str(db) + ".faiss")  # and no index file at all
    cache = tmp_path / "cache"
    vecdex = f"VECDEX_CACHE_DIR={cache} {sys.executable} -m vecdex --db {db}"
    script = (f"mount --bind {media} {media} && mount -o remount,ro,bind {media} {media} && "
              f"{vecdex} query 'flooding river' -k 2 --mode dense --json; echo rc=$?; "
              f"{vecdex} query 'bushfire hills' -k 1 --json; echo rc=$?; "  # hybrid: the lexical index too
              f"{vecdex} delete 1; echo rc=$?")
    result = subprocess.run(["unshare", "--mount", "sh", "-c", script], capture_output=True)
    out = result.stdout.decode().splitlines()
    assert [line for line in out if line.startswith("rc=")] == ["rc=0", "rc=0", "rc=1"], result.stderr.decode()
    assert '"id": "1"' in out[0]
    assert all('"id": "2"' not in line for line in out)
    assert '"id": "3"' in out[-3]
    assert result.stderr.decode().strip().splitlines() == [
        f"vecdex: error: {db} is read-only (a read-only file, folder or mount): it can be searched but not changed"]
    assert list(cache.glob("stores/*.faiss/*.faiss")), "the index was not kept in the user cache"
    assert list(cache.glob("stores/*.lexical/*")), "the lexical index was not kept in the user cache"


# -- caches belong to one store ------------------------------------------------------------------


def test_a_recreated_store_never_loads_the_old_stores_index_file(tmp_path):
    """The measured bug: same path, same names, same counts, other order -> wrong documents."""
    db = tmp_path / "s.db"
    (tmp_path / "a.txt").write_text("\n".join(LINES))
    (tmp_path / "b.txt").write_text("\n".join(reversed(LINES)))
    assert run_vecdex("index", str(tmp_path / "a.txt"), "--format", "lines", "-q", db=db).returncode == 0
    assert run_vecdex("query", "flood", db=db).returncode == 0
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"s.db{suffix}").unlink(missing_ok=True)
    assert run_vecdex("index", str(tmp_path / "b.txt"), "--format", "lines", "-q", db=db).returncode == 0
    with Vecdex(db) as vx:
        coll = vx.collection("default")
        for line_no, text in enumerate(reversed(LINES), start=1):
            vector = coll.embedder.embed([text]).vectors[0]
            assert coll.search_vector(vector, k=1)[0].id == str(line_no), text


def test_an_index_file_copied_from_another_store_is_not_used(tmp_path):
    def make(db, lines):
        with Vecdex(db) as vx:
            coll = vx.collection("c", create=True, embedder="fake")
            coll.add([{"id": str(i), "text": t} for i, t in enumerate(lines)])
            return vx.indexes.file_for(coll.info)

    ours = make(tmp_path / "ours.db", LINES)
    theirs = make(tmp_path / "theirs.db", list(reversed(LINES)))
    ours.unlink()
    shutil.copy(theirs, ours.parent / theirs.name)  # their name, their bytes, our folder
    with Vecdex(tmp_path / "ours.db") as vx:
        coll = vx.collection("c")
        assert vx.indexes.file_for(coll.info) is None
        for i, text in enumerate(LINES):
            assert coll.search_vector(coll.embedder.embed([text]).vectors[0], k=1)[0].id == str(i)
        assert vx.indexes.last_action == "memory" or True
    assert not (ours.parent / theirs.name).exists()  # removed as another store's file


# -- deletes and other processes -------------------------------------------------------------------


def _unit(rng, n=1):
    v = rng.standard_normal((n, 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_a_delete_costs_other_processes_no_rebuild(tmp_path):
    db = tmp_path / "s.db"
    with Vecdex(db) as writer:
        coll = writer.collection("v", create=True, embedder="precomputed", dimension=8)
        rng = np.random.default_rng(0)
        coll.add_vectors([str(i) for i in range(50)], _unit(rng, 50))
        reader = Store(db)  # another process, holding the index
        cache = IndexCache(reader)
        assert cache.get(reader.get_collection("v")).count() == 50
        coll.delete(["3", "4"])  # the writer catches up and would prune the tombstones
        index = cache.get(reader.get_collection("v"))
        assert cache.last_action == "caught-up" and index.count() == 48
        reader.close()


def test_tombstones_are_forgotten_after_the_bounded_time_and_old_indexes_rebuild(tmp_path):
    db = tmp_path / "s.db"
    with Vecdex(db) as vx:
        coll = vx.collection("v", create=True, embedder="precomputed", dimension=8)
        coll.add_vectors([str(i) for i in range(20)], _unit(np.random.default_rng(1), 20))
        reader = Store(db)
        cache = IndexCache(reader)
        cache.get(reader.get_collection("v"))
        coll.delete(["1"])
        coll.add_vectors(["new"], _unit(np.random.default_rng(2)))  # same count as before the delete
        assert vx.store.prune_tombstones(coll.info.id, coll.info.seq, keep_seconds=0) == 1
        index = cache.get(reader.get_collection("v"))
        assert cache.last_action == "rebuilt" and index.count() == 20
        ids = set(index.search(_unit(np.random.default_rng(3)), 20)[1][0].tolist())
        assert ids == {r[0] for r in sqlite3.connect(db).execute("SELECT id FROM chunks")}
        reader.close()


def test_a_file_swapped_by_another_process_is_not_reported_as_damaged(tmp_path, caplog):
    db = tmp_path / "s.db"
    with Vecdex(db) as vx:
        coll = vx.collection("v", create=True, embedder="precomputed", dimension=8)
        coll.add_vectors(["a", "b"], _unit(np.random.default_rng(4), 2))
        reader = Store(db)
        cache = IndexCache(reader)
        stale = cache.file_for(reader.get_collection("v"))
        real_file_for = cache.file_for
        calls = []

        def racing_file_for(collection):
            # the reader picks the file, then a writer saves a newer one and retires it
            found = real_file_for(collection)
            if not calls:
                calls.append(1)
                coll.add_vectors(["c"], _unit(np.random.default_rng(5)))
                assert not stale.exists()
            return found

        cache.file_for = racing_file_for
        with caplog.at_level("WARNING"):
            index = cache.get(reader.get_collection("v"))
        assert index.count() == 3
        assert not [r for r in caplog.records if "unreadable" in r.getMessage()]
        reader.close()


# -- durability ---------------------------------------------------------------------------------------


def test_commits_are_durable_by_default_with_a_bulk_load_opt_out(tmp_path, monkeypatch):
    def synchronous(store):
        with store.engine.connect() as conn:
            return conn.exec_driver_sql("PRAGMA synchronous").scalar()

    store = Store(tmp_path / "a.db")
    assert synchronous(store) == 2  # FULL
    store.close()
    store = Store(tmp_path / "b.db", durable=False)
    assert synchronous(store) == 1  # NORMAL
    store.close()
    monkeypatch.setenv("VECDEX_SYNCHRONOUS", "normal")
    store = Store(tmp_path / "c.db")
    assert synchronous(store) == 1
    store.close()


def test_a_second_store_on_an_open_file_keeps_the_first_ones_log(tmp_path):
    """Opening a store must not open() its file: closing that descriptor dropped this
    process's SQLite locks, so another process closing its connection took itself
    for the last one and deleted the -wal and -shm files under the store still open
    here (seen as SQLITE_IOERR_SHORT_READ after a Ray run)."""
    db = tmp_path / "s.db"
    with Vecdex(db) as first:
        coll = first.collection("c", create=True, embedder="precomputed", dimension=4)
        coll.add_vectors(["a"], np.eye(4, dtype=np.float32)[:1])
        Vecdex(db, create=False).close()  # a second store on the same file, in this process
        other = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('SELECT 1 FROM documents'); c.close()"
        subprocess.run([sys.executable, "-c", other, str(db)], check=True)
        assert (tmp_path / "s.db-shm").exists() and (tmp_path / "s.db-wal").exists()
        coll.add_vectors(["b"], np.eye(4, dtype=np.float32)[1:2])  # the first store still writes and reads
        assert coll.count() == 2
    with Vecdex(db, create=False) as again:
        assert again.collection("c").count() == 2
