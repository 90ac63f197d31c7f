"""Storage: SQLite (source of truth) and FAISS files (a rebuildable cache)."""

from .index_cache import IndexCache
from .store import ChunkHit, CollectionInfo, DocumentWrite, Store, StoreError, WriteResult

__all__ = ["ChunkHit", "CollectionInfo", "DocumentWrite", "IndexCache", "Store", "StoreError", "WriteResult"]
