"""Copy collections between stores (SQLite <-> PostgreSQL): documents, metadata,
chunk spans, vectors and the specs that made them, exactly.

A copy needs no embedder: the destination collection gets the source's
embedder spec (pooling state included) and stored vectors byte for byte, so it
answers queries identically. Documents go over in batches, one destination
transaction each, in source id order; a document already in the destination
with the same content hash is skipped, so a copy that was interrupted (or a
second copy later) only writes what is missing or changed. Nothing in the
source is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Iterator

from ..errors import ModelMismatchError, StoreError
from .reads import blobs_to_matrix
from .store import CollectionInfo, DocumentWrite, Store

BATCH_DOCUMENTS = 500


@dataclass
class CopyReport:
    collection: str
    documents: int = 0  # in the source
    copied: int = 0  # written to the destination by this run
    skipped: int = 0  # already there, same content


def _same_setup(source: CollectionInfo, target: CollectionInfo) -> bool:
    return source.embedder == target.embedder and source.chunking == target.chunking


def source_documents(store: Store, collection: CollectionInfo, batch: int) -> Iterator[list[DocumentWrite]]:
    """The collection's documents with their chunks, in id order, ``batch`` at a time
    (each block from one short read transaction: bounded memory for any size)."""
    dimension = int(collection.embedder["dimension"])
    after = 0
    while True:
        with store.reading() as conn:
            docs = conn.exec_driver_sql(
                "SELECT id, ext_id, text, metadata, content_hash, source FROM documents "
                "WHERE collection_id = ? AND id > ? ORDER BY id LIMIT ?", (collection.id, after, batch)).all()
            if not docs:
                return
            chunks = conn.exec_driver_sql(
                'SELECT document_id, start, "end", vector FROM chunks WHERE collection_id = ? '
                "AND document_id >= ? AND document_id <= ? ORDER BY document_id, ordinal",
                (collection.id, docs[0][0], docs[-1][0])).all()
        by_document: dict[int, list] = {}
        for row in chunks:
            by_document.setdefault(row[0], []).append(row)
        out = []
        for doc_id, ext_id, text, metadata, content_hash, source in docs:
            rows = by_document.get(doc_id, [])
            metadata_json = metadata if isinstance(metadata, str) else json.dumps(metadata)
            out.append(DocumentWrite(ext_id, text, metadata_json, content_hash, source,
                                     [(int(r[1]), int(r[2])) for r in rows],
                                     blobs_to_matrix([bytes(r[3]) for r in rows], dimension)))
        yield out
        after = int(docs[-1][0])


def copy_collection(source: Store, target: Store, name: str, *, batch: int = BATCH_DOCUMENTS,
                    progress: Callable[[int], None] | None = None) -> CopyReport:
    """Copy collection ``name`` from ``source`` to ``target`` (created there if missing;
    an existing one must have the same embedder and chunking)."""
    collection = source.get_collection(name)
    if collection is None:
        raise StoreError(f"no collection named {name!r} in {source.location}")
    index_spec = {k: v for k, v in collection.index_spec.items() if k != "resolved"}
    existing = target.get_collection(name)
    if existing is None:
        existing = target.create_collection(name, collection.embedder, index_spec, collection.chunking)
    if not _same_setup(collection, existing):
        raise ModelMismatchError(
            f"collection {name!r} in {target.location} embeds differently (another model, pooling state or "
            "chunking): copy to another collection name or store")
    report = CopyReport(name, documents=source.counts(collection.id)[0])
    for block in source_documents(source, collection, batch):
        known = target.existing_hashes(existing.id, [d.ext_id for d in block])
        todo = [d for d in block if known.get(d.ext_id) != d.content_hash]
        if todo:
            # The spec guard: a refit of the target meanwhile would mix two states.
            target.write_documents(existing.id, todo, embedder_spec=collection.embedder)
        report.copied += len(todo)
        report.skipped += len(block) - len(todo)
        if progress is not None:
            progress(len(block))
    return report
