"""Storage: SQLite (source of truth) and FAISS files (a rebuildable cache)."""

from storage.index_cache import IndexCache
from storage.store import ChunkHit, CollectionInfo, DocumentWrite, Store, StoreError, WriteResult

__all__ = ["ChunkHit", "CollectionInfo", "DocumentWrite", "IndexCache", "Store", "StoreError", "WriteResult"]
