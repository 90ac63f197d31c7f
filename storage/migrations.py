"""Numbered schema migrations. Append, never edit: a store records the last one applied.

Each migration is a list of SQL statements run in one transaction together with
the version bump, so a crash leaves the store at the old or the new version.
"""

from __future__ import annotations

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE collections (
            id INTEGER PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            embedder JSON NOT NULL,
            index_spec JSON NOT NULL,
            chunking JSON NOT NULL,
            seq INTEGER NOT NULL DEFAULT 0,
            generation INTEGER NOT NULL DEFAULT 0,
            created_at FLOAT NOT NULL,
            updated_at FLOAT NOT NULL
        )""",
        """CREATE TABLE documents (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            ext_id VARCHAR NOT NULL,
            text TEXT NOT NULL,
            metadata JSON NOT NULL,
            content_hash VARCHAR NOT NULL,
            source VARCHAR,
            created_at FLOAT NOT NULL,
            updated_at FLOAT NOT NULL,
            CONSTRAINT uq_documents_collection_ext_id UNIQUE (collection_id, ext_id)
        )""",
        """CREATE TABLE chunks (
            id INTEGER PRIMARY KEY,
            collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            vector BLOB NOT NULL
        )""",
        "CREATE INDEX ix_chunks_document ON chunks (document_id)",
        "CREATE INDEX ix_chunks_collection_seq ON chunks (collection_id, seq)",
        """CREATE TABLE chunk_tombstones (
            collection_id INTEGER NOT NULL,
            chunk_id INTEGER NOT NULL,
            seq INTEGER NOT NULL
        )""",
        "CREATE INDEX ix_tombstones_collection_seq ON chunk_tombstones (collection_id, seq)",
    ],
}

LATEST_VERSION = max(MIGRATIONS)
