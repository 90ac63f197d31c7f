"""Store methods behind the HTTP API: dropping a collection (ids never reused, its
files gone), paging documents with a cursor and a filter, listing ids, tokens."""

from __future__ import annotations

from vecdex.search.filters import normalise_filters
from vecdex.storage.tokens import TokenTable


def test_drop_collection_removes_everything_and_its_id_is_never_reused(vx):
    keep = vx.collection("keep", create=True, embedder="fake")
    gone = vx.collection("gone", create=True, embedder="fake")
    keep.add([("a", "apples and pears")])
    gone.add([("b", "boats and ships"), ("c", "cars and trains")])
    gone.search("boats", k=1, mode="dense")  # writes an index file
    files = [path for _, _, path in vx.indexes._files(gone.info)]
    assert files
    assert vx.store.drop_collection(gone.info.id) is True
    vx.indexes.drop(gone.info)
    assert vx.store.drop_collection(gone.info.id) is False
    assert not any(f.exists() for f in files)
    assert [c.name for c in vx.collections()] == ["keep"]
    assert vx.store.counts(gone.info.id) == (0, 0)
    again = vx.collection("gone", create=True, embedder="fake")
    assert again.info.id > gone.info.id  # the highest id was dropped: still not reused
    again.add([("z", "zebras")])
    assert [h.id for h in again.search("boats and ships", k=5, mode="lexical")] == []
    assert [h.id for h in again.search("zebras", k=5, mode="dense")] == ["z"]
    assert [h.id for h in keep.search("apples", k=5, mode="lexical")] == ["a"]


def test_document_pages_follow_storage_order_with_a_cursor_and_filters(vx):
    coll = vx.collection("pages", create=True, embedder="fake")
    coll.add([(f"d{i}", f"text number {i}", {"n": i, "even": i % 2 == 0}) for i in range(7)])
    coll.add([("d3", "text number three, updated", {"n": 3, "even": False})])  # keeps its place
    seen, after = [], 0
    while after is not None:
        page, after = vx.store.document_page(coll.info.id, after=after, limit=3)
        assert len(page) <= 3
        seen += page
    assert [d["id"] for d in seen] == [f"d{i}" for i in range(7)]
    assert seen[3]["text"] == "text number three, updated" and seen[3]["metadata"] == {"n": 3, "even": False}
    page, after = vx.store.document_page(coll.info.id, limit=10, filters=normalise_filters(["even=true", "n>=2"]))
    assert [d["id"] for d in page] == ["d2", "d4", "d6"] and after is None
    assert vx.store.document_ids(coll.info.id) == [f"d{i}" for i in range(7)]
    assert coll.count() == 7 and [d["id"] for d in coll.documents(where=["n<2"], batch=1)] == ["d0", "d1"]


def test_tokens_are_stored_as_digests_and_revocable(vx):
    from vecdex.search.server.auth import Authenticator, mint

    token, record = mint(vx.store, "write", ["docs"], "ci")
    table = TokenTable(vx.store)
    assert [r.id for r in table.all()] == [record.id] and table.all()[0].digest != token
    who = Authenticator(vx.store).principal(f"Bearer {token}")
    assert who.may("write", "docs") and who.may("read", "docs") and not who.may("admin", "docs")
    assert not who.may("read", "other")
    assert table.remove(record.id) and not table.remove(record.id) and table.all() == []
