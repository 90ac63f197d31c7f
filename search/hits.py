"""What a search returns: :class:`Hit`, and the snippet text shown with it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import QueryError

SNIPPET_CHARS = 280
#: The most results one search may ask for (FAISS and numpy index with int64;
#: bigger numbers are a mistake, not a wish).
MAX_K = 2**31 - 1


def check_k(k: int) -> None:
    """A one-line QueryError for a k no search can honour."""
    if k < 1:
        raise QueryError("k must be at least 1")
    if k > MAX_K:
        raise QueryError(f"k must be at most {MAX_K:,}")


@dataclass(slots=True)
class Hit:
    """One search result: a document, its best chunk's cosine and that chunk's text."""

    id: str
    score: float
    snippet: str
    metadata: dict[str, Any]
    rank: int = 0
    span: tuple[int, int] = (0, 0)

    def as_dict(self, query: str | None = None) -> dict[str, Any]:
        out = {"query": query, "rank": self.rank, "id": self.id, "score": round(float(self.score), 6),
               "snippet": self.snippet, "metadata": self.metadata}
        return out

def make_snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    if len(text) <= limit and "  " not in text and text.isprintable():  # already flat: the common case
        return text.strip()
    flat = " ".join(text.split())  # collapse whitespace (faster than a regex on the hot path)
    if len(flat) <= limit:
        return flat
    cut = flat.rfind(" ", 0, limit)
    return flat[: cut if cut > limit // 2 else limit].rstrip() + "…"
