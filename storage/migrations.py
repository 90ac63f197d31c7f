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
    # Full-text (BM25) index of document text for lexical and hybrid search: an
    # external-content FTS5 table (the text is stored once, in documents), written
    # in the same transactions as the documents, so it is crash-consistent with
    # them. New rows are added in bulk by Store.write_documents (a per-row INSERT
    # trigger costs about 3x more: 31 vs 11 us per one-line document); updates and
    # deletes, which need the old text, go through triggers, so no delete path
    # (cascades included) can forget them. The tokenizer is unicode61 without
    # stemming, so query terms and fts5vocab statistics are plain lower-cased words.
    2: [
        """CREATE VIRTUAL TABLE documents_fts USING fts5(
            text, content='documents', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
        )""",
        """CREATE TRIGGER documents_fts_delete AFTER DELETE ON documents BEGIN
            INSERT INTO documents_fts (documents_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END""",
        """CREATE TRIGGER documents_fts_update AFTER UPDATE OF text ON documents BEGIN
            INSERT INTO documents_fts (documents_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO documents_fts (rowid, text) VALUES (new.id, new.text);
        END""",
        "CREATE VIRTUAL TABLE documents_fts_terms USING fts5vocab(documents_fts, 'row')",
        # Existing stores: index the documents they already hold.
        "INSERT INTO documents_fts (documents_fts) VALUES ('rebuild')",
    ],
    # The document-level change log the lexical (tantivy) index catches up from
    # (storage/lexical_cache.py): which batch wrote a document (documents.seq)
    # and which batch removed which document (document_tombstones). A store
    # identifier lets a cache folder tell its own store from a copy or another
    # one. Existing documents get seq 0: any lexical index is built afresh.
    3: [
        "ALTER TABLE documents ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX ix_documents_collection_seq ON documents (collection_id, seq)",
        """CREATE TABLE document_tombstones (
            collection_id INTEGER NOT NULL,
            document_id INTEGER NOT NULL,
            seq INTEGER NOT NULL
        )""",
        "CREATE INDEX ix_document_tombstones_collection_seq ON document_tombstones (collection_id, seq)",
        # Tombstones up to this seq were pruned: a lexical index covering less is rebuilt.
        "ALTER TABLE collections ADD COLUMN documents_pruned_seq INTEGER NOT NULL DEFAULT 0",
        "INSERT OR IGNORE INTO vecdex_meta (key, value) VALUES ('store_id', lower(hex(randomblob(16))))",
    ],
    # The FTS5 index (migration 2) is replaced by the tantivy cache: drop it.
    4: [
        "DROP TRIGGER IF EXISTS documents_fts_delete",
        "DROP TRIGGER IF EXISTS documents_fts_update",
        "DROP TABLE IF EXISTS documents_fts_terms",
        "DROP TABLE IF EXISTS documents_fts",
    ],
    # Tombstones record when they were written: they are kept for a while after
    # the writer's own caches have covered them, so other processes holding older
    # indexes catch up instead of rebuilding (Store.prune_tombstones,
    # document_log.prune_tombstones). (The store id, recorded by every cache file,
    # is written by migration 3.)
    5: [
        "ALTER TABLE chunk_tombstones ADD COLUMN created_at FLOAT NOT NULL DEFAULT 0",
        "ALTER TABLE document_tombstones ADD COLUMN created_at FLOAT NOT NULL DEFAULT 0",
    ],
    # Bearer tokens of the HTTP API (vecdex serve): only a SHA-256 digest of each
    # token is kept; ``id`` is a short public handle for listing and revoking.
    # ``collections`` is a JSON list of names the token is limited to (NULL: all).
    6: [
        """CREATE TABLE api_tokens (
            id VARCHAR PRIMARY KEY,
            digest VARCHAR NOT NULL UNIQUE,
            scope VARCHAR NOT NULL,
            collections JSON,
            name VARCHAR,
            created_at FLOAT NOT NULL
        )""",
    ],
}

LATEST_VERSION = max(MIGRATIONS)

# PostgreSQL's migrations, numbered on their own (a database records the last one
# applied in vecdex_meta, as SQLite does). Migration 1 is SQLite's schema 4 in
# PostgreSQL's types: identity ids (new rows take them from the sequence, so
# writers on several hosts never collide), bytea vectors, jsonb metadata; and the
# functions metadata filters compile to (storage/postgres.py, PgJson), which read
# jsonb values as SQLite's JSON1 + vx_num do: booleans are 1/0 as numbers,
# strings holding a finite number are that number, type names are JSON1's.
POSTGRES_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE collections (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            name VARCHAR NOT NULL UNIQUE,
            embedder JSONB NOT NULL,
            index_spec JSONB NOT NULL,
            chunking JSONB NOT NULL,
            seq BIGINT NOT NULL DEFAULT 0,
            generation BIGINT NOT NULL DEFAULT 0,
            documents_pruned_seq BIGINT NOT NULL DEFAULT 0,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE documents (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            collection_id BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            ext_id VARCHAR NOT NULL,
            text TEXT NOT NULL,
            metadata JSONB NOT NULL,
            content_hash VARCHAR NOT NULL,
            source VARCHAR,
            created_at DOUBLE PRECISION NOT NULL,
            updated_at DOUBLE PRECISION NOT NULL,
            seq BIGINT NOT NULL DEFAULT 0,
            CONSTRAINT uq_documents_collection_ext_id UNIQUE (collection_id, ext_id)
        )""",
        "CREATE INDEX ix_documents_collection_seq ON documents (collection_id, seq)",
        """CREATE TABLE chunks (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            collection_id BIGINT NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
            document_id BIGINT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            start INTEGER NOT NULL,
            "end" INTEGER NOT NULL,
            seq BIGINT NOT NULL,
            vector BYTEA NOT NULL
        )""",
        "CREATE INDEX ix_chunks_document ON chunks (document_id)",
        "CREATE INDEX ix_chunks_collection_seq ON chunks (collection_id, seq)",
        """CREATE TABLE chunk_tombstones (
            collection_id BIGINT NOT NULL,
            chunk_id BIGINT NOT NULL,
            seq BIGINT NOT NULL
        )""",
        "CREATE INDEX ix_tombstones_collection_seq ON chunk_tombstones (collection_id, seq)",
        """CREATE TABLE document_tombstones (
            collection_id BIGINT NOT NULL,
            document_id BIGINT NOT NULL,
            seq BIGINT NOT NULL
        )""",
        "CREATE INDEX ix_document_tombstones_collection_seq ON document_tombstones (collection_id, seq)",
        "INSERT INTO vecdex_meta (key, value) VALUES ('store_id', replace(gen_random_uuid()::text, '-', '')) "
        "ON CONFLICT (key) DO NOTHING",
        # A number from text as Python's float() reads it, finite only (else NULL).
        r"""CREATE FUNCTION vx_num_text(t text) RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE WHEN t ~ '^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$' THEN
                CASE WHEN abs(t::numeric) < 1e308 THEN t::double precision END END
        $$""",
        """CREATE FUNCTION vx_num(j jsonb) RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE jsonb_typeof(j)
                WHEN 'number' THEN vx_num_text(j #>> '{}')
                WHEN 'boolean' THEN CASE WHEN j = 'true'::jsonb THEN 1.0 ELSE 0.0 END
                WHEN 'string' THEN vx_num_text(j #>> '{}')
            END
        $$""",
        """CREATE FUNCTION vx_type(j jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE jsonb_typeof(j)
                WHEN 'boolean' THEN CASE WHEN j = 'true'::jsonb THEN 'true' ELSE 'false' END
                WHEN 'string' THEN 'text'
                ELSE jsonb_typeof(j)
            END
        $$""",
        """CREATE FUNCTION vx_elements(j jsonb) RETURNS TABLE (value text, type text, number double precision)
            LANGUAGE sql IMMUTABLE AS $$
            SELECT e #>> '{}', vx_type(e), vx_num(e)
            FROM jsonb_array_elements(CASE WHEN jsonb_typeof(j) = 'array' THEN j ELSE '[]'::jsonb END) AS e
        $$""",
    ],
    # Tombstone age (SQLite's migration 5): kept a while after the writer's caches
    # covered them, so other processes catch up instead of rebuilding.
    2: [
        "ALTER TABLE chunk_tombstones ADD COLUMN created_at DOUBLE PRECISION NOT NULL DEFAULT 0",
        "ALTER TABLE document_tombstones ADD COLUMN created_at DOUBLE PRECISION NOT NULL DEFAULT 0",
    ],
    # SQLite's migration 6: the HTTP API's bearer tokens (SHA-256 digests).
    3: [
        """CREATE TABLE api_tokens (
            id VARCHAR PRIMARY KEY,
            digest VARCHAR NOT NULL UNIQUE,
            scope VARCHAR NOT NULL,
            collections JSON,
            name VARCHAR,
            created_at DOUBLE PRECISION NOT NULL
        )""",
    ],
    # Change notifications: every statement that changes a collection row (each
    # write bumps its seq) or a token announces it on the channel ``vecdex_changes``,
    # delivered at commit to every listening process, so a warm search learns
    # "nothing changed" without a round trip (storage/pg_changes.py).
    4: [
        """CREATE FUNCTION vx_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('vecdex_changes', '');
                RETURN NULL;
            END
        $$""",
        "CREATE TRIGGER vx_collections_changed AFTER INSERT OR UPDATE OR DELETE ON collections "
        "FOR EACH STATEMENT EXECUTE FUNCTION vx_notify_change()",
        "CREATE TRIGGER vx_tokens_changed AFTER INSERT OR UPDATE OR DELETE ON api_tokens "
        "FOR EACH STATEMENT EXECUTE FUNCTION vx_notify_change()",
    ],
    # Metadata kept as the text it was written (``json``, not ``jsonb``): SQLite
    # keeps the text, and jsonb re-orders keys (shortest first) and rewrites
    # numbers (1e16 came back as the int 10000000000000000), so the two stores
    # returned different metadata. The filter functions get ``json`` versions.
    5: [
        "ALTER TABLE documents ALTER COLUMN metadata TYPE json USING metadata::json",
        """CREATE FUNCTION vx_num(j json) RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE json_typeof(j)
                WHEN 'number' THEN vx_num_text(j #>> '{}')
                WHEN 'boolean' THEN CASE WHEN (j #>> '{}') = 'true' THEN 1.0 ELSE 0.0 END
                WHEN 'string' THEN vx_num_text(j #>> '{}')
            END
        $$""",
        """CREATE FUNCTION vx_type(j json) RETURNS text LANGUAGE sql IMMUTABLE AS $$
            SELECT CASE json_typeof(j)
                WHEN 'boolean' THEN CASE WHEN (j #>> '{}') = 'true' THEN 'true' ELSE 'false' END
                WHEN 'string' THEN 'text'
                ELSE json_typeof(j)
            END
        $$""",
        """CREATE FUNCTION vx_elements(j json) RETURNS TABLE (value text, type text, number double precision)
            LANGUAGE sql IMMUTABLE AS $$
            SELECT e #>> '{}', vx_type(e), vx_num(e)
            FROM json_array_elements(CASE WHEN json_typeof(j) = 'array' THEN j ELSE '[]'::json END) AS e
        $$""",
    ],
}

POSTGRES_LATEST_VERSION = max(POSTGRES_MIGRATIONS)
