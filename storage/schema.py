"""The SQL schema: the store's source of truth.

- ``collections``: name, the embedder spec and index spec (JSON) that reproduce its
  vectors, and ``seq``, a write counter bumped by every committed batch.
- ``documents``: external id (unique per collection), text, metadata JSON, content
  hash, where it came from.
- ``chunks``: a document's pieces (character span) and their float32 vectors; the
  chunk id is the FAISS id. ``seq`` says which batch wrote the chunk.
- ``chunk_tombstones``: chunk ids removed by batch ``seq``, so a FAISS file that
  covers an older ``seq`` can be caught up instead of rebuilt.
- ``documents.seq`` and ``document_tombstones``: the same log at document level
  (which batch wrote or removed a document), for the lexical index.
- ``api_tokens``: bearer tokens of the HTTP API, as SHA-256 digests, with a scope.
"""

from __future__ import annotations

import json

from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class JsonValue(TypeDecorator):
    """A JSON column read as Python values on both dialects. (The PostgreSQL store
    hands ``jsonb`` over as text, as SQLite does, so driver-level reads get the
    same text on both; here it is decoded.)"""

    impl = JSON
    cache_ok = True

    def process_result_value(self, value, dialect):
        return json.loads(value) if isinstance(value, str) else value


metadata_obj = MetaData()

meta = Table(
    "vecdex_meta",
    metadata_obj,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

collections = Table(
    "collections",
    metadata_obj,
    Column("id", Integer, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("embedder", JsonValue, nullable=False),
    Column("index_spec", JsonValue, nullable=False),
    Column("chunking", JsonValue, nullable=False),
    Column("seq", Integer, nullable=False, default=0),
    Column("generation", Integer, nullable=False, default=0),
    Column("documents_pruned_seq", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

documents = Table(
    "documents",
    metadata_obj,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
    Column("ext_id", String, nullable=False),
    Column("text", Text, nullable=False),
    Column("metadata", JsonValue, nullable=False),
    Column("content_hash", String, nullable=False),
    Column("source", String),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("seq", Integer, nullable=False, default=0),
    UniqueConstraint("collection_id", "ext_id", name="uq_documents_collection_ext_id"),
)

chunks = Table(
    "chunks",
    metadata_obj,
    Column("id", Integer, primary_key=True),
    Column("collection_id", Integer, ForeignKey("collections.id", ondelete="CASCADE"), nullable=False),
    Column("document_id", Integer, ForeignKey("documents.id", ondelete="CASCADE"), nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("start", Integer, nullable=False),
    Column("end", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
    Index("ix_chunks_document", "document_id"),
    Index("ix_chunks_collection_seq", "collection_id", "seq"),
)

chunk_tombstones = Table(
    "chunk_tombstones",
    metadata_obj,
    Column("collection_id", Integer, nullable=False),
    Column("chunk_id", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("created_at", Float, nullable=False, default=0),
    Index("ix_tombstones_collection_seq", "collection_id", "seq"),
)

document_tombstones = Table(
    "document_tombstones",
    metadata_obj,
    Column("collection_id", Integer, nullable=False),
    Column("document_id", Integer, nullable=False),
    Column("seq", Integer, nullable=False),
    Index("ix_document_tombstones_collection_seq", "collection_id", "seq"),
)

api_tokens = Table(
    "api_tokens",
    metadata_obj,
    Column("id", String, primary_key=True),
    Column("digest", String, nullable=False, unique=True),
    Column("scope", String, nullable=False),
    Column("collections", JsonValue),
    Column("name", String),
    Column("created_at", Float, nullable=False),
)
