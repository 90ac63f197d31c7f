"""Text queries in every ranking mode: dense, lexical (BM25) and hybrid (fused),
for one query, many, or a stored document (``similar``).

:class:`RankedSearch` is mixed into :class:`~vecdex.search.engine.Collection`;
vector search itself is :class:`~vecdex.search.dense.DenseSearch`.
"""

from __future__ import annotations

import operator
from typing import Any, Sequence

import numpy as np

from ..errors import QueryError
from . import lexical
from .dense import DenseCandidate, dense_hit
from .filters import Where, normalise_filters
from .hits import Hit, check_k
from .hybrid import Ranking, fuse


class RankedSearch:
    """Query methods of a collection (text in, ranked document hits out)."""

    def embed_query(self, query: str) -> np.ndarray:
        vector = self.embedder.embed_one(query)
        if vector is None:
            raise self._unknown_words(query)
        return vector

    def _unknown_words(self, query: str) -> QueryError:
        shown = query if len(query) < 60 else query[:57] + "..."
        return QueryError(
            f"none of the words in {shown!r} are known to the model {self.embedder.model_name}; "
            "try other words"
        )

    def ranking(self, mode: str | Ranking | None = None, **options: Any) -> Ranking:
        """The ranking a search uses: ``mode`` and the options given, then this
        collection's embedder's defaults (a transformer collection fuses with less
        BM25 than a GloVe one), then the global ones. A :class:`Ranking` is used as is."""
        if isinstance(mode, Ranking):
            return Ranking.of(mode, **options)
        from ..indexer.embedders.factory import embedders  # the class only: no model is loaded

        defaults = embedders.get(self.info.embedder.get("kind", "static")).default_ranking
        return Ranking.of(mode, **{**defaults, **{k: v for k, v in options.items() if v is not None}})

    def search(self, query: str, k: int = 10, where: Any = None, *, mode: str | Ranking | None = None,
               nprobe: int | None = None, ef: int | None = None, min_seq: int | None = None,
               **ranking: Any) -> list[Hit]:
        """The k best documents for ``query``.

        ``mode`` is ``"dense"`` (closest in meaning: cosine of the best chunk),
        ``"lexical"`` (BM25 over the words) or ``"hybrid"`` (both, fused; the
        default); ``fusion="score"|"rrf"|"minmax"``, ``dense_weight``,
        ``lexical_weight`` and ``rrf_k`` tune the fusion (see :mod:`search.hybrid`).
        In hybrid mode a query none of whose words the model knows still finds
        exact word matches; it is an error only when neither side can answer.
        ``nprobe`` (IVF lists probed) and ``ef`` (HNSW efSearch) trade speed for
        recall of the dense side on this call only. ``min_seq``: answer from a state
        covering at least that write (a ``seq`` a write returned, in any process);
        without it a PostgreSQL store's other hosts' latest commits show once their
        change notification arrives (see :mod:`storage.pg_changes`).
        """
        options = self.ranking(mode, **ranking)
        if min_seq is not None:
            self.reach(min_seq, dense=options.mode != "lexical", lexical=options.mode != "dense")
        return self._search(query, k, normalise_filters(where), options, knobs={"nprobe": nprobe, "ef": ef})

    def _search(self, query: str, k: int, where: Where, options: Ranking, vector: np.ndarray | None = None,
                unknown: bool = False, knobs: dict[str, int | None] | None = None) -> list[Hit]:
        """One query; ``vector`` (or ``unknown``) when the caller embedded it already."""
        check_k(k)
        if options.mode == "dense":
            if unknown:
                raise self._unknown_words(query)
            return self._dense(query, k, where, vector=vector, knobs=knobs)
        terms = lexical.query_terms(query)
        if options.mode == "lexical":
            if not terms:
                raise QueryError(f"no words to search for in {_shown(query)}")
            return lexical.hits(self._vx.store, self._lexical(terms, k, where), terms)
        depth = options.depth(k)
        try:
            if unknown:
                raise self._unknown_words(query)
            dense, dense_error = self._dense(query, depth, where, vector=vector, knobs=knobs, light=True), None
        except QueryError as exc:
            dense, dense_error = [], exc
        words = self._lexical(terms, depth, where) if terms else []
        if dense_error is not None and not words:
            raise dense_error
        return self._fused(dense, words, options, k, terms)

    def _dense(self, query: str, k: int, where: Where, exclude_document: int | None = None,
               vector: np.ndarray | None = None, knobs: dict[str, int | None] | None = None,
               light: bool = False) -> list[Hit]:
        knobs = {**(knobs or {}), "light": light}
        if vector is not None:
            return self.search_vector(vector, k, where, exclude_document=exclude_document, **knobs)
        # A refit (new embedder state, new index generation) between embedding the
        # query and searching would compare vectors of two states: retry once.
        for _ in range(2):
            self.index()  # the state this search works on (a PRAGMA while nothing was committed)
            generation = self.info.generation
            hits = self.search_vector(self.embed_query(query), k, where, exclude_document=exclude_document, **knobs)
            if self.info.generation == generation:  # search_vector rereads it
                break
        return hits

    def _lexical(self, terms: list[str], k: int, where: Where,
                 exclude_document: int | None = None) -> list[lexical.LexicalHit]:
        return lexical.search(self._vx.lexical, self.info.id, terms, k, where, exclude_document=exclude_document)

    def _fused(self, dense: list[DenseCandidate], words: list[lexical.LexicalHit], options: Ranking, k: int,
               terms: list[str]) -> list[Hit]:
        """The top k of both rankings, made into hits only now: snippets and metadata
        for the k returned, not the 2 x 50 fused (a document both sides found
        keeps the dense hit: its snippet is the best-matching chunk)."""
        fused = fuse(dense, words, key=_key, score=_score, ranking=options, k=k)
        light = [h for h, _ in fused if isinstance(h, lexical.LexicalHit)]
        built = lexical.materialise(self._vx.store, light, terms) if light else {}
        chunk_ids = [h.chunk_id for h, _ in fused if isinstance(h, DenseCandidate)]
        rows = self._hit_rows.read(chunk_ids, self._hit_rows.current(self._index_state)) if chunk_ids else {}
        out = []
        for hit, score in fused:
            if isinstance(hit, lexical.LexicalHit):
                full = built.get(hit.document_id)
                if full is None:
                    continue  # deleted meanwhile
                full.score, full.rank = score, len(out) + 1
                out.append(full)
            else:
                row = rows.get(hit.chunk_id)
                if row is None:
                    continue  # deleted meanwhile
                out.append(dense_hit(row, score, len(out) + 1))
        return out

    def search_many(self, queries: Sequence[str], k: int = 10, where: Any = None, *,
                    mode: str | Ranking | None = None, nprobe: int | None = None, ef: int | None = None,
                    **ranking: Any) -> list[list[Hit] | QueryError]:
        """Several queries; a query that cannot be answered yields its QueryError in place.

        The queries are embedded together: a contextual model (ELMo) batches them.
        """
        options = self.ranking(mode, **ranking)
        where = normalise_filters(where)  # parsed once for all the queries
        queries = list(queries)
        embedded = self.embedder.embed(queries) if queries and options.mode != "lexical" else None
        results: list[list[Hit] | QueryError] = []
        for i, query in enumerate(queries):
            known = embedded is not None and bool(embedded.known[i])
            try:
                results.append(self._search(query, k, where, options, embedded.vectors[i] if known else None,
                                            unknown=embedded is not None and not known,
                                            knobs={"nprobe": nprobe, "ef": ef}))
            except QueryError as exc:
                results.append(exc)
        return results

    def similar(self, doc_id: str, k: int = 10, where: Any = None, *, mode: str | Ranking | None = None,
                nprobe: int | None = None, ef: int | None = None, **ranking: Any) -> list[Hit]:
        """Documents most like a stored one (itself excluded), in any ranking mode.

        Dense: the centroid of its chunk vectors; lexical: BM25 for its most
        distinctive words (tf-idf); hybrid: both, fused.
        """
        options = self.ranking(mode, **ranking)
        where = normalise_filters(where)
        check_k(k)
        found = self._vx.store.document_vectors(self._refresh(), str(doc_id))
        if found is None:
            raise QueryError(f"no document with id {doc_id!r} in collection {self.name!r}")
        document_row, vectors = found
        depth = k if options.mode != "hybrid" else options.depth(k)
        dense: list[Hit] = []
        if options.mode != "lexical":
            if len(vectors) == 0 and options.mode == "dense":
                raise QueryError(f"document {doc_id!r} has no vector (none of its words are known to the model)")
            if len(vectors):
                centroid = vectors.mean(axis=0)
                centroid /= np.linalg.norm(centroid) or 1.0
                dense = self.search_vector(centroid, depth, where, exclude_document=document_row,
                                           nprobe=nprobe, ef=ef, light=options.mode == "hybrid")
            if options.mode == "dense":
                return dense
        document = self._vx.store.get_document(self.info.id, str(doc_id)) or {"text": ""}
        terms = lexical.document_terms(self._vx.lexical.get(self.info.id), document["text"])
        words = self._lexical(terms, depth, where, exclude_document=document_row) if terms else []
        if options.mode == "lexical":
            if not terms:
                raise QueryError(f"document {doc_id!r} shares no indexed word with other documents")
            return lexical.hits(self._vx.store, words, terms)
        if not dense and not words and len(vectors) == 0 and not terms:
            raise QueryError(f"document {doc_id!r} has neither a vector nor words shared with other documents")
        return self._fused(dense, words, options, k, terms)


def _shown(query: str) -> str:
    return repr(query if len(query) < 60 else query[:57] + "...")

_key = operator.attrgetter("document_id")  # the store's row id: DenseCandidate and LexicalHit alike
_score = operator.attrgetter("score")
