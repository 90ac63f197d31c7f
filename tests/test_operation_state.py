"""One collection state per operation: an ``add`` reads the collection's row a few
times, not once per cache; a search of an unchanged store reads it not at all; the
index cache answering a read never writes the store."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event
from vecdex.indexer.pipeline import Indexer
from vecdex.indexer.readers import Record
from vecdex.search import Vecdex

ROW_READ = re.compile(r"^\s*(SELECT\b.*\bFROM collections\b|UPDATE collections\b.*\bRETURNING\b)", re.S | re.I)


class Statements:
    """Every SQL statement the store's engine runs, while attached."""

    def __init__(self, store):
        self.log: list[str] = []
        event.listen(store.engine, "before_cursor_execute", self._seen)
        self._engine = store.engine

    def _seen(self, conn, cursor, statement, params, context, many):
        self.log.append(statement)

    def detach(self):
        event.remove(self._engine, "before_cursor_execute", self._seen)

    @property
    def row_reads(self) -> int:
        return sum(bool(ROW_READ.match(s)) for s in self.log)

    @property
    def write_transactions(self) -> int:
        return sum(s.strip().upper().startswith("BEGIN IMMEDIATE") for s in self.log)


def docs(n, offset=0):
    return [{"id": f"d{i + offset}", "text": f"plain words number {i + offset}"} for i in range(n)]


def test_one_add_reads_the_collection_row_a_few_times_and_writes_twice(fake_collection, vx):
    fake_collection.add(docs(5))  # the first add also records auto's first choice
    seen = Statements(vx.store)
    fake_collection.add(docs(20, offset=5))
    seen.detach()
    # The operation's state (1), the batch's seq bump with the embedder check (1),
    # the vector snapshot's seq (1), the index sync's record (1). Before issue 10: 9 SELECTs.
    assert seen.row_reads <= 4, [s for s in seen.log if ROW_READ.match(s)]
    assert seen.write_transactions == 2  # the batch, then the index sync (auto's choice + tombstones)
    assert [h.id for h in fake_collection.search("plain words number 7", k=1, mode="dense")] == ["d7"]


def test_searches_of_an_unchanged_store_do_not_read_the_row_and_reads_never_write(fake_collection, vx, db_path):
    fake_collection.add(docs(30))
    fake_collection.search("plain words", k=3, mode="dense")
    seen = Statements(vx.store)
    for _ in range(5):
        fake_collection.search("plain words", k=3, mode="dense")
    assert seen.row_reads == 0 and seen.write_transactions == 0
    with Vecdex(db_path) as other:  # another connection writes: the next search reads the state once
        other.collection("fake").add(docs(2, offset=100))
    assert [h.id for h in fake_collection.search("plain words number 101", k=1, mode="dense")] == ["d101"]
    assert seen.write_transactions == 0
    assert 1 <= seen.row_reads <= 2  # the state, and the seq of the vectors caught up
    seen.detach()


def test_a_read_that_finds_auto_wanting_another_index_does_not_write(vx, db_path):
    coll = vx.collection("grow", create=True, embedder="fake", index="auto:threshold=50")
    coll.add(docs(30))
    assert coll.info.index_spec["resolved"] == {"type": "flat"}
    # Rows written behind auto's back (no index sync ran): the next reader sees 80 rows.
    Indexer(vx.store, coll.info, coll.embedder, workers=1).run(
        [Record(d["id"], d["text"], {}, d["id"]) for d in docs(50, offset=30)])
    with Vecdex(db_path) as reader:
        rcoll = reader.collection("grow")
        seen = Statements(reader.store)
        hits = rcoll.search("plain words number 60", k=1, mode="dense")
        seen.detach()
        assert [h.id for h in hits] == ["d60"] and seen.write_transactions == 0
        assert reader.store.get_collection("grow").index_spec["resolved"] == {"type": "flat"}  # not recorded
    coll.add(docs(1, offset=200))  # a writer records the choice
    assert coll.info.index_spec["resolved"]["type"] == "hnsw"


@pytest.mark.parametrize("op", ["delete", "reindex"])
def test_other_writes_keep_the_index_and_the_state_in_step(fake_collection, op):
    fake_collection.add(docs(10))
    if op == "delete":
        assert fake_collection.delete(["d3"]) == []
        assert "d3" not in {h.id for h in fake_collection.search("plain words number 3", k=10, mode="dense")}
    else:
        generation = fake_collection.info.generation
        fake_collection.reindex("flat")
        assert fake_collection.info.generation == generation + 1 and fake_collection.info.index_spec == {
            "type": "flat"}
    assert fake_collection.info == fake_collection._vx.store.get_collection("fake")
