"""The Python API: open a store, index documents, search, find similar, delete.

    from vecdex import Vecdex

    vx = Vecdex("notes.db")
    docs = vx.collection("notes", create=True)
    docs.add([{"id": "a", "text": "The river bank flooded.", "metadata": {"year": 2020}}])
    for hit in docs.search("flood near the river", k=5, where=["year>=2019"]):
        print(hit.id, round(hit.score, 3), hit.snippet)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from ..errors import ModelMismatchError, QueryError
from ..indexer.chunking import ChunkingSpec
from ..indexer.embedders.base import Embedder, EmbedderError
from ..indexer.embedders.factory import create_embedder, embedder_from_spec
from ..indexer.readers import Problem, Record
from ..storage.ann.factory import DEFAULT_INDEX_SPEC
from ..storage.ann.spec import IndexSpecError, check_dimension, format_spec, parse_index_spec
from ..storage.index_cache import IndexCache
from ..storage.lexical_cache import LexicalCache
from ..storage.backends import open_store
from ..storage.store import CollectionChangedError, CollectionInfo, Store, StoreError  # noqa: F401
from .dense import DenseSearch
from .hit_cache import HitRows
from .hits import Hit, make_snippet  # noqa: F401  (re-exported: the public Hit)
from .ranking import RankedSearch
from .setup import check_same_setup, check_window

if TYPE_CHECKING:
    from ..indexer.pipeline import IndexReport

_log = logging.getLogger(__name__)
DEFAULT_DB = "vecdex.db"
DEFAULT_COLLECTION = "default"
REFIT_ATTEMPTS = 3  # a refit redone because the collection changed meanwhile, at most this often
#: A write of at least this many documents starts bringing the lexical index up
#: to date in the background (one tantivy commit, an fsync); smaller writes leave
#: it to the next lexical or hybrid search, which catches up all of them at once.
LEXICAL_EAGER_DOCS = 1000


def default_db_path() -> str:
    return os.environ.get("VECDEX_DB") or DEFAULT_DB



class Collection(RankedSearch, DenseSearch):
    """A named set of documents embedded one way. Get one from :meth:`Vecdex.collection`."""

    def __init__(self, vecdex: "Vecdex", info: CollectionInfo):
        self._vx = vecdex
        self.info = info
        self._embedder: Embedder | None = None
        self._index: tuple[int, Any] | None = None  # (store data_version, index) last checked
        self._index_state: tuple[int, int] | None = None  # (generation, seq) that index covers
        self._chunks_per_doc = 1.0
        self._hit_rows = HitRows(vecdex.store, info.id)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def embedder(self) -> Embedder:
        # Rebuilt when the stored spec changed (a refit by this or another process).
        if self._embedder is None or self._embedder.spec != self.info.embedder:
            self._embedder = embedder_from_spec(self.info.embedder)
        return self._embedder

    def _refresh(self) -> CollectionInfo:
        info = self._vx.store.get_collection(self.info.name)
        if info is None:
            raise StoreError(f"collection {self.info.name!r} no longer exists")
        self.info = info
        return info

    def index(self):
        """The up-to-date vector index (built or caught up from the store if needed)."""
        # While no connection has committed anything, the index we hold is current:
        # one PRAGMA instead of re-reading the collection on every search.
        version = self._vx.store.data_version()
        if self._index is not None and self._index[0] == version:
            return self._index[1]
        index = self._vx.indexes.get(self._refresh())  # the one state this search works on
        n_docs, n_chunks = self._vx.store.counts(self.info.id)
        self._chunks_per_doc = n_chunks / n_docs if n_docs else 1.0
        self._index_state = self._vx.indexes.open_state(self.info.id, index)
        self._index = (version, index)
        return index

    def catch_up(self, min_seq: int | None = None) -> int:
        """Bring this process's index up to the store; returns the ``seq`` it now covers
        (what read-your-writes promises: a read after a write of ``seq`` s sees it).
        With ``min_seq``: an index behind it re-checks the store even if no change
        was signalled yet (another host's commit whose PostgreSQL notification has
        not arrived), so a write acknowledged elsewhere is never missed."""
        index = self.index()
        state = self._index_state or self._vx.indexes.open_state(self.info.id, index)
        if min_seq is not None and (state is None or state[1] < min_seq):
            self._index = None  # ask the store now
            index = self.index()
            state = self._index_state or self._vx.indexes.open_state(self.info.id, index)
        return state[1] if state is not None else self.store_seq()

    def reach(self, min_seq: int, *, dense: bool = True, lexical: bool = True) -> int:
        """Bring this process's caches (the vector index, the lexical index) up to at
        least write ``min_seq`` - a ``seq`` a write returned, here or in another
        process or host - and return the ``seq`` they cover. A ``min_seq`` the
        store has not reached was never returned by it: QueryError."""
        for _attempt in range(3):
            seq = self.catch_up(min_seq) if dense else self.store_seq()
            if lexical and seq >= min_seq:
                seq = min(seq, self._vx.lexical.get(self.info.id, min_seq).seq)
            if seq >= min_seq:
                return seq
            stored = self.store_seq()
            if stored < min_seq:
                raise QueryError(f"min_seq {min_seq} is ahead of collection {self.name!r} (at write {stored}): "
                                 "pass a seq a write to this collection returned")
        raise QueryError(f"collection {self.name!r} did not reach write {min_seq}")  # pragma: no cover

    def store_seq(self) -> int:
        """The collection's write counter in the store right now."""
        state = self._vx.store.collection_state(self.info.id)
        if state is None:
            raise StoreError(f"collection {self.info.name!r} no longer exists")
        return state[0]

    def documents(self, where: Any = None, *, batch: int = 1000):
        """Every document (``{"id", "text", "metadata", ...}``) in storage order, read a page at a time."""
        from .filters import normalise_filters

        filters = normalise_filters(where)
        after: int | None = 0
        while after is not None:
            page, after = self._vx.store.document_page(self.info.id, after=after, limit=batch, filters=filters)
            yield from page

    def count(self) -> int:
        """How many documents the collection holds."""
        return self._vx.store.count_documents(self.info.id)

    # -- writes ------------------------------------------------------------------------

    def add(
        self,
        documents: Iterable[Mapping[str, Any] | Sequence[Any] | Record | Problem],
        *,
        strict: bool = False,
        workers: int | None = None,
        progress=None,
        chunk_progress=None,
    ) -> "IndexReport":
        """Insert or update documents by id; unchanged ones are skipped.

        Each document is a dict ``{"id", "text", "metadata"?}``, a tuple
        ``(id, text[, metadata])``, or a :class:`indexer.readers.Record`.
        ``progress(n)`` is called with the documents each committed batch read,
        ``chunk_progress(n)`` with the chunks it wrote.
        """
        if self.info.embedder.get("kind") == "precomputed":
            raise EmbedderError(
                f"collection {self.name!r} holds precomputed vectors: add documents with add_vectors()"
            )
        from ..indexer.pipeline import Indexer  # not needed (nor imported) on the query path

        # No lexical catch-up during the run (one starts when it ends): the worker
        # pool forks lazily, and a worker forked while a catch-up holds tantivy's
        # writer lock keeps that lock (an inherited descriptor) for its whole life.
        indexer = Indexer(self._vx.store, self._refresh(), self.embedder, workers=workers, progress=progress,
                          chunk_progress=chunk_progress)
        report = None
        try:
            report = indexer.run((_as_record(d) for d in documents), strict=strict)
        except KeyboardInterrupt:
            raise  # no more work after an interrupt: committed batches are safe, the index catches up later
        except BaseException:
            self._sync_index(indexer.last_seq, report)
            raise
        self.finish_write(indexer.last_seq, report)
        return report

    def finish_write(self, written_seq: int, report: "IndexReport") -> None:
        """After an indexing run (:meth:`add`, or a distributed one) wrote up to
        ``written_seq``: the vector index brought up to date, the report's ``seq``
        set (what ``min_seq`` takes), and a refit if due."""
        self._sync_index(written_seq, report)
        report.seq = written_seq
        if self._refit_due():
            try:
                self.refit()
            except CollectionChangedError:  # other writers are busy: refit on a later add
                report.notes["refit postponed: the collection kept changing (run vecdex refit)"] = 0

    upsert = add

    def delete(self, ids: Sequence[str]) -> list[str]:
        """Delete documents by id; returns the ids that were not found."""
        missing, result = self._vx.store.delete_documents(self.info.id, [str(i) for i in ids])
        self._sync_index(result.seq)
        return missing

    def add_vectors(
        self,
        ids: Sequence[str],
        vectors: Any,
        texts: Sequence[str] | None = None,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> "IndexReport":
        """Insert or update documents with the application's own vectors.

        Only for collections made with ``embedder="precomputed", dimension=D``:
        vectors from another model would not be comparable with a text model's.
        Vectors are L2-normalised (search is cosine); unchanged documents are skipped.
        """
        if self.info.embedder.get("kind") != "precomputed":
            raise ModelMismatchError(
                f"collection {self.name!r} embeds text with {self.info.embedder.get('model')}; vectors from "
                "elsewhere are not comparable. Make a collection with embedder='precomputed', dimension=D"
            )
        ids = [str(i) for i in ids]
        matrix = self._query_matrix(vectors) if len(ids) else np.zeros((0, self.embedder.dimension), np.float32)
        texts = list(texts) if texts is not None else [""] * len(ids)
        metadata = list(metadata) if metadata is not None else [None] * len(ids)
        if not (len(matrix) == len(ids) == len(texts) == len(metadata)):
            raise QueryError(f"{len(ids)} ids, {len(matrix)} vectors, {len(texts)} texts, {len(metadata)} metadata: "
                             "they must be as many")
        if len(set(ids)) != len(ids):
            raise QueryError("ids must be unique within one call")
        from ..indexer.pipeline import Indexer, gc_paused  # writes only

        with gc_paused():
            records = [Record(ids[i], str(texts[i] or ""), dict(metadata[i] or {}), ids[i]) for i in range(len(ids))]
        # The lexical index is caught up once, when the write ends: catching up in
        # the background during it (every 1,000 documents) made a 100k-document
        # call 35% slower in all and 70% dearer in CPU (two threads building
        # Python objects per document share one GIL; each catch-up commits).
        indexer = Indexer(self._vx.store, self._refresh(), self.embedder, workers=1)
        report = None
        try:
            report = indexer.run_vectors(records, matrix)
        finally:
            self._sync_index(indexer.last_seq, report, written=indexer.written)
        report.seq = indexer.last_seq
        return report

    def reindex(self, index: str | dict[str, Any] | None = None) -> dict[str, Any]:
        """Rebuild the vector index, with another spec if given (``"hnsw:M=32"``).

        Without a spec the current one is rebuilt; ``auto`` chooses afresh.
        """
        info = self._refresh()
        spec = parse_index_spec(index) if index is not None else dict(info.index_spec)
        spec.pop("resolved", None)
        check_dimension(spec, int(info.embedder["dimension"]))
        started = time.perf_counter()
        self._vx.store.update_index_spec(info.id, spec)  # new generation: old files retire
        self._vx.indexes.forget(info.id)
        self._refresh()
        self._sync_index()
        return {"collection": self.name, "index": self.info.index_spec, "seconds": time.perf_counter() - started}

    def _refit_due(self) -> bool:
        """A collection-fitted embedder is refitted when the collection has doubled
        since its last fit (amortised O(1) per document), or while its fit is
        still incomplete (too little text so far) and new text has arrived."""
        spec = self.info.embedder
        if spec.get("fit") != "collection":
            return False
        _, n_chunks = self._vx.store.counts(self.info.id)
        fitted = spec.get("fitted")
        if n_chunks == 0:
            return False
        if not fitted:
            return True
        done = int(fitted.get("documents", 0))
        incomplete = (spec.get("components") and not fitted.get("components")) or (
            spec.get("word_freq") == "corpus" and not fitted.get("word_probs")
        )
        return n_chunks >= 2 * done or (bool(incomplete) and n_chunks > done)

    def refit(self) -> dict[str, Any]:
        """Refit a collection-fitted pooling state (word frequencies, common
        components) on the collection's own chunks and re-embed every chunk.

        The chunks are read and re-embedded outside any transaction (other writers
        are not blocked meanwhile); the new state and all re-embedded vectors are
        then written in one short transaction (with a new index generation), only
        if nothing was written since the read, else the refit is redone. Stored
        vectors always match the stored state, also after a crash. Collections fitted on the model or a named
        corpus have nothing to refit (their state does not depend on the documents).
        """
        # Read and embed outside any transaction (other writers go on meanwhile), then
        # swap in one short one, only if nothing was written in between: else redo.
        for attempt in range(REFIT_ATTEMPTS):
            info, chunk_ids, texts = self._vx.store.chunk_texts(self.info.id)
            base = embedder_from_spec(info.embedder)
            if not base.needs_collection_fit:
                return {"refitted": False, "reason": f"fit is {info.embedder.get('fit')!r}, not 'collection'"}
            fitted = base.fitted_on(texts)
            out = fitted.embed(texts)
            vectors = [out.vectors[i] if out.known[i] else None for i in range(len(texts))]
            try:
                kept, dropped = self._vx.store.replace_vectors(info, fitted.spec, chunk_ids, vectors)
                break
            except CollectionChangedError:
                if attempt == REFIT_ATTEMPTS - 1:
                    raise CollectionChangedError(
                        f"collection {self.name!r} kept changing during {REFIT_ATTEMPTS} refit attempts; "
                        "nothing was refitted: run the refit again when writes pause") from None
        self._refresh()  # a new embedder spec and generation
        self._sync_index()
        fitted = self.info.embedder.get("fitted") or {}
        return {"refitted": True, "chunks": kept, "dropped": dropped,
                "fitted": {k: v for k, v in fitted.items() if k not in ("components", "word_probs")},
                "components": bool(fitted.get("components")), "corpus_word_freq": bool(fitted.get("word_probs"))}

    def _sync_index(self, written_seq: int = -1, report: "IndexReport | None" = None,
                    written: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """After this collection wrote (up to ``written_seq``): bring the index and its
        file up to the store, record auto's choice, forget covered tombstones; after
        a large write (``report``), catch the lexical index up too. The state is the
        one this operation holds, advanced by its own writes: no re-read. ``written``:
        the vectors the write kept in memory (see :meth:`IndexCache.sync`)."""
        state = self.info if written_seq <= self.info.seq else dataclasses.replace(self.info, seq=written_seq)
        if report is not None and report.added + report.updated >= LEXICAL_EAGER_DOCS:
            # In a background thread that logs what fails: the write is committed,
            # and the next search catches up (or rebuilds) if this could not.
            # Started first, so that tantivy indexes while FAISS is brought up
            # (both mostly outside the GIL): 100k one-line documents 3.65 -> 3.47 s.
            self._vx.lexical.catch_up_soon(state.id)
        _, self.info = self._vx.indexes.sync(state, written)

    # -- reads ---------------------------------------------------------------------------


    def check(self, *, repair: bool = False):
        """Verify this collection (documents, chunks, vectors, its index file); see
        :meth:`Vecdex.check`."""
        return self._vx.check(repair=repair, collection=self.name)

    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self._vx.store.get_document(self.info.id, str(doc_id))

    def stats(self) -> dict[str, Any]:
        """Counts, model, dimension, index and file sizes (what ``vecdex info`` shows)."""
        info = self._refresh()
        n_docs, n_chunks = self._vx.store.counts(info.id)
        index_file = self._vx.indexes.file_for(info)
        spec = info.embedder
        return {
            "collection": info.name,
            "documents": n_docs,
            "chunks": n_chunks,
            "dimension": spec["dimension"],
            "model": spec.get("model"),
            "embedder": spec,
            "chunking": info.chunking,
            "index": info.index_spec,
            "index_description": format_spec(info.index_spec),
            "index_file": str(index_file) if index_file else None,
            "index_file_bytes": index_file.stat().st_size if index_file else 0,
            "index_up_to_date": bool(index_file) and self._vx.indexes.covered_by(index_file)[1] == info.seq,
            "store": self._vx.store.kind,
            "db_path": self._vx.store.location,
            "db_bytes": self._vx.store.size_bytes(),
            # Hit rows this process holds in memory (search/hit_cache.py); 0 until
            # the collection has been searched often enough.
            "hit_cache_bytes": self._hit_rows.cache.nbytes if self._hit_rows.cache is not None else 0,
            "writes": info.seq,
            "created_at": info.created_at,
            "updated_at": info.updated_at,
        }



def _as_record(doc: Any) -> Record | Problem:
    if isinstance(doc, (Record, Problem)):
        return doc
    if isinstance(doc, Mapping):
        if "id" not in doc or "text" not in doc:
            return Problem(str(doc.get("id", "?")), "a document needs 'id' and 'text'", "bad-record")
        text = doc["text"]
        if not isinstance(text, str) or not text.strip():
            return Problem(str(doc["id"]), "empty document" if isinstance(text, str) else "text must be a string", "empty")
        return Record(str(doc["id"]), text, dict(doc.get("metadata") or {}), str(doc["id"]))
    doc_id, text, *rest = doc
    if not isinstance(text, str) or not text.strip():
        return Problem(str(doc_id), "empty document", "empty")
    return Record(str(doc_id), text, dict(rest[0]) if rest and rest[0] else {}, str(doc_id))


class Vecdex:
    """A vecdex store on disk: one SQLite file plus its FAISS cache folder."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, create: bool = True,
                 durable: bool | None = None):
        # durable=False (or $VECDEX_SYNCHRONOUS=normal): commits skip the fsync that
        # makes them survive a power cut; for bulk loads that can simply be re-run.
        self.store = open_store(path or default_db_path(), create=create, durable=durable)
        self.indexes = IndexCache(self.store)
        self.lexical = LexicalCache(self.store)

    def __enter__(self) -> "Vecdex":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.lexical.wait()  # a background catch-up finishes its commit first
        self.store.close()

    def check(self, *, repair: bool = False, collection: str | None = None):
        """Verify the store and its caches (``vecdex check``); with ``repair``, rebuild
        caches and remove stray files first. Returns a :class:`~vecdex.storage.check.CheckReport`."""
        from ..storage.check import check_store

        chosen = None
        if collection is not None:
            info = self.store.get_collection(collection)
            if info is None:
                raise StoreError(f"no collection named {collection!r} in {self.store.path}")
            chosen = [info]
        return check_store(self.store, self.indexes, chosen, repair=repair, lexical=self.lexical)

    def drop_if_empty(self, name: str) -> bool:
        """Remove a collection that was never written to (a run that indexed
        nothing leaves nothing behind); returns whether it was removed."""
        info = self.store.get_collection(name)
        if info is None or not self.store.drop_collection_if_empty(info.id):
            return False
        self.indexes.forget(info.id)
        for path in self.indexes.stray_files(info):
            path.unlink(missing_ok=True)
        return True

    def collections(self) -> list[CollectionInfo]:
        return self.store.list_collections()

    def collection(
        self,
        name: str = DEFAULT_COLLECTION,
        *,
        create: bool = False,
        embedder: str | None = None,
        model: str | None = None,
        chunking: ChunkingSpec | None = None,
        index: str | dict[str, Any] | None = None,
        **embedder_options: Any,
    ) -> Collection:
        """Open a collection; with ``create=True`` make it if missing.

        ``embedder`` (default "static") and ``model`` choose how a new collection
        embeds. For an existing one, whatever is given must match what it was
        built with: vectors from two models (or two chunkings) do not mix.
        ``index`` is the vector index spec of a new collection (``"auto"`` by
        default; ``"hnsw:M=32,efSearch=64"``, ``"ivf:nlist=1024"``, ``"flat"``...);
        an existing collection changes index with :meth:`Collection.reindex`.
        """
        wanted_index = parse_index_spec(index) if index is not None else None
        info = self.store.get_collection(name)
        if info is not None:
            check_same_setup(info, wanted_index, embedder, model, chunking, embedder_options)
            return Collection(self, info)
        if not create:
            raise StoreError(
                f"no collection named {name!r} in {self.store.location} "
                f"(collections: {', '.join(c.name for c in self.collections()) or 'none yet'})"
            )
        new_embedder = create_embedder(embedder or "static", model=model, **embedder_options)
        wanted_index = wanted_index or dict(DEFAULT_INDEX_SPEC)
        check_dimension(wanted_index, new_embedder.dimension)
        chunking = chunking or new_embedder.default_chunking or ChunkingSpec()
        check_window(new_embedder, chunking)
        info = self.store.create_collection(
            name, new_embedder.spec, wanted_index, chunking.to_dict()
        )
        if not new_embedder.same_model(info.embedder):  # another process created it first
            raise ModelMismatchError(f"collection {name!r} was just created with another model")
        collection = Collection(self, info)
        collection._embedder = new_embedder
        return collection


__all__ = [
    "Collection", "Hit", "ModelMismatchError", "QueryError", "Vecdex", "EmbedderError", "StoreError", "IndexSpecError",
    "default_db_path",
]
