"""Lexical search: BM25 over the collection's tantivy index (:mod:`storage.lexical_cache`).

User text never reaches a query parser: it is cut into words, each word
analysed like the indexed text and searched as a term (or, for a word the
analyser splits, such as ``XJ-9000``, as the phrase of its pieces). BM25
statistics (document count, average length, document frequencies) are the
collection's own. Filters run inside the search where tantivy can express them
exactly; the rest are checked against the store before a hit is returned.

A search returns light hits (row id, external id, score); the snippet and
metadata are read and built only for the hits a caller finally returns
(:func:`materialise`).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from operator import itemgetter
from typing import Any, NamedTuple

import tantivy

from ..indexer import tokenize
from ..storage import document_log, lexical_query
from ..storage.lexical_cache import LexicalCache, LexicalIndex
from .filters import normalise_filters
from .hits import Hit, make_snippet

#: A longer query keeps its first this-many distinct words.
MAX_QUERY_TERMS = 64
#: Terms that stand for a document in lexical ``similar``.
SIMILAR_TERMS = 24
SNIPPET_TOKENS = 40
#: Characters per word a snippet looks back for the words before its query word.
LOOK_BACK_CHARS = 32
#: Query terms in more than this share of the collection's documents are dropped (see _informative)...
MAX_DF_FRACTION = 0.5
#: ... and in collections of at least LARGE_STORE documents, terms in more than this share.
LARGE_STORE = 20_000
LARGE_STORE_MAX_DF_FRACTION = 0.25
#: Words in at most this share of the documents (or else the rarest word) are
#: the ones required first in :func:`ranked`. Measured on bench/bench_lexical.py's
#: 300 six-word queries, p50 of the lexical side at 1M one-line documents: 0.45-0.50
#: ms with 0.1-0.2%, 0.70 with 0.5%, 1.0 with 1%, 1.2 with 2%, against 2.0 for the
#: plain disjunction; at 100k news articles 0.22-0.25 ms against 0.27-0.31.
RARE_SHARE = 0.002


class LexicalHit(NamedTuple):
    document_id: int  # the store's row id
    score: float  # BM25: higher is better


def query_terms(query: str) -> list[str]:
    """Distinct lower-cased words of ``query``, in order, at most :data:`MAX_QUERY_TERMS`."""
    seen: dict[str, None] = {}
    for word in tokenize.words(query):
        seen.setdefault(word.lower(), None)
    return list(seen)[:MAX_QUERY_TERMS]


def search(
    cache: LexicalCache,
    collection_id: int,
    terms: list[str],
    k: int,
    where: Any = None,
    *,
    exclude_document: int | None = None,
) -> list[LexicalHit]:
    """The k best BM25 matches of any of ``terms`` among the collection's documents."""
    if k < 1:
        return []
    index = cache.get(collection_id)
    words = _informative(index, [t for t in (lexical_query.analyse(term) for term in terms) if t])
    if not words:
        return []
    must, unchecked = lexical_query.filter_query(index.index, normalise_filters(where))
    clauses = [(tantivy.Occur.Must, query) for query in must]
    if exclude_document is not None:
        clauses.append((tantivy.Occur.MustNot, lexical_query.doc_query(exclude_document)))
    return [LexicalHit(doc, score) for doc, score in _search_checked(cache, index, words, clauses, k, unchecked)]


def _search_checked(cache: LexicalCache, index: LexicalIndex, words: list[list[str]], clauses: list[Any], k: int,
                    unchecked: list[Any]) -> list[tuple[int, float]]:
    """Top k; with filters left to the store, deeper rounds until k pass them."""
    if not unchecked:
        return ranked(index, words, clauses, k)
    limit = k
    while True:
        found = ranked(index, words, clauses, limit)
        accepted = document_log.matching_documents(cache.store, [doc for doc, _ in found], unchecked)
        passed = [(doc, score) for doc, score in found if doc in accepted]
        if len(passed) >= k or len(found) < limit:
            return passed[:k]
        limit *= 4


def ranked(index: LexicalIndex, words: list[list[str]], clauses: list[Any], limit: int) -> list[tuple[int, float]]:
    """The ``limit`` best documents having any of ``words`` (BM25: the sum of the
    scores of the words a document has) among those ``clauses`` admit: exactly
    the top of the plain disjunction, usually without scoring all of it.

    tantivy's Python binding scores every document of a disjunction (its search
    wraps the top-k collector in a way that turns off block-max WAND): at 1M
    one-line documents, ~2 ms for six words, mostly their common ones. This is
    MaxScore (Turtle & Flood, 1995) in query form. The rare words are required
    (any of them), the common ones only add to the score, so tantivy walks the
    rare words' postings and skips through the common ones. A document with
    none of the rare words scores at most the sum of the common words' best
    scores (:meth:`LexicalIndex.max_score`). When that sum is below the
    ``limit``-th score found, no such document can be in the top, and the result
    is exact. Otherwise such a document can only reach that score with every
    common word whose bound the others cannot make up for: those words are
    necessary, and one more search, of the documents that have all of them and
    none of the rare words (a cheap intersection), completes the top (the two
    sets are disjoint: merged by score, equal scores in tantivy's order). With
    no necessary word, a second try keeps optional only the common words whose
    best scores sum below that score. It only widens the set searched, so its
    ``limit``-th score can only be higher, and the test holds by construction.
    Scores equal the plain query's up to float rounding: the same terms are
    summed, in another order.
    """
    plain = lambda: index.search(_within(clauses, _any_of(words)), limit)  # noqa: E731
    if len(words) < 2 or limit < 1:
        return plain()
    rarity = sorted(range(len(words)), key=lambda i: min(index.doc_freq(t) for t in words[i]))
    rare_limit = RARE_SHARE * index.documents
    required = [i for i in rarity if min(index.doc_freq(t) for t in words[i]) <= rare_limit] or rarity[:1]
    optional = [i for i in rarity if i not in required]
    everything = _postings(index, words, rarity)
    if not optional or _dearer(index, words, required, optional, everything):
        return plain()
    found = index.search(_within(clauses, _pruned(words, required, optional)), limit)
    if len(found) < limit:  # fewer rare-word documents than asked for: common-only ones count
        return plain()
    threshold = found[-1][1]
    bound = {i: index.max_score(words[i]) for i in optional}
    total = sum(bound.values())
    if _below(total, threshold):
        return found
    necessary = [i for i in optional if _below(total - bound[i], threshold)]
    if necessary:
        rest = [i for i in optional if i not in necessary]
        others = index.search(_within(clauses, _lacking(words, required, necessary, rest)), limit)
        return _merged(index, found, others, limit)
    kept: list[int] = []
    total = 0.0
    for b, i in sorted((b, i) for i, b in bound.items()):
        if not _below(total + b, threshold):
            break
        total += b
        kept.append(i)
    walked = [i for i in rarity if i not in kept]
    if not kept or _dearer(index, words, walked, kept, everything):
        return plain()
    return index.search(_within(clauses, _pruned(words, walked, kept)), limit)


def _postings(index: LexicalIndex, words: list[list[str]], which) -> int:
    return sum(min(index.doc_freq(t) for t in words[i]) for i in which)


def _dearer(index: LexicalIndex, words: list[list[str]], walked: list[int], nested: list[int],
            everything: int) -> bool:
    """Whether a pruned query would likely cost more than the plain one, which
    scores every posting of every word (``everything``). The pruned one seeks
    through each nested word for every document of the ``walked`` words, and a
    level costs more the deeper it sits: measured on 568 queries (six-word bench
    queries, sentence prefixes of 8-25 words, sets of 4-34 common words) at 100k
    articles and 1M lines, ``walked postings x (1 + nested)^2 / 4`` against the
    plain query's postings chose within 3% of the faster query in total (always
    pruning: 1.8x), with the same p50. 30 common words pruned took 50-70 ms, the
    plain query 9-16."""
    return _postings(index, words, walked) * (1 + len(nested)) ** 2 > 4 * everything


def _lacking(words: list[list[str]], absent: list[int], present: list[int], optional: list[int]) -> tantivy.Query:
    """Documents with every ``present`` word and no ``absent`` one, scored by
    every word they have (each optional word nested, as in :func:`_pruned`)."""
    query = tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, lexical_query.term_query(words[i])) for i in present]
        + [(tantivy.Occur.MustNot, lexical_query.term_query(words[i])) for i in absent])
    for i in optional:
        query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query),
                                             (tantivy.Occur.Should, lexical_query.term_query(words[i]))])
    return query


def _merged(index: LexicalIndex, first: list[tuple[int, float]], second: list[tuple[int, float]],
            limit: int) -> list[tuple[int, float]]:
    """The top ``limit`` of two disjoint rankings, as one search would order them:
    by score, equal scores by document address (each list is in that order already;
    an equal score across the two lists is rare, and then the addresses are read)."""
    if not second:
        return first[:limit]
    merged = sorted(first + second, key=itemgetter(1), reverse=True)  # stable: each list keeps its order
    from_second = {doc for doc, _ in second}
    start = 0
    while start < min(len(merged), limit):
        end = start + 1
        while end < len(merged) and merged[end][1] == merged[start][1]:
            end += 1
        group = merged[start:end]
        if end - start > 1 and 0 < sum(doc in from_second for doc, _ in group) < len(group):
            order = index.addresses([doc for doc, _ in group])
            merged[start:end] = sorted(group, key=lambda hit: order[hit[0]])
        start = end
    return merged[:limit]


def _below(bound: float, threshold: float) -> bool:
    # With a margin for float rounding (tantivy sums f32 scores, here in f64).
    return bound * (1 + 1e-5) + 1e-6 < threshold


def _any_of(words: list[list[str]]) -> tantivy.Query:
    should = [(tantivy.Occur.Should, lexical_query.term_query(tokens)) for tokens in words]
    return tantivy.Query.boolean_query(should) if len(should) > 1 else should[0][1]


def _pruned(words: list[list[str]], required: list[int], optional: list[int]) -> tantivy.Query:
    """Documents with any required word, scored by every word they have. Each
    optional word gets its own level of nesting: tantivy merges the optional
    clauses of one boolean query into a union that, asked for the next required
    document, scores all of its postings in a 4,096-document window (as slow as
    the plain query), while a single optional term skips through its postings."""
    query = _any_of([words[i] for i in required])
    for i in optional:
        query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query),
                                             (tantivy.Occur.Should, lexical_query.term_query(words[i]))])
    return query


def _within(clauses: list[Any], query: tantivy.Query) -> tantivy.Query:
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, query), *clauses]) if clauses else query


def materialise(store, hits: list[LexicalHit], terms: list[str]) -> dict[int, Hit]:
    """Row id -> hit with external id, metadata and a snippet around the first query
    word, read in one go (a document deleted since the search is absent)."""
    rows = document_log.document_rows(store, [h.document_id for h in hits])
    wanted = set(terms)
    out = {}
    for rank, hit in enumerate(hits, 1):
        row = rows.get(hit.document_id)
        if row is not None:
            ext_id, metadata_json, text_ = row
            metadata = {} if metadata_json == "{}" else json.loads(metadata_json)
            out[hit.document_id] = Hit(ext_id, hit.score, make_snippet(snippet(text_, wanted)), metadata, rank)
    return out


def hits(store, found: list[LexicalHit], terms: list[str]) -> list[Hit]:
    """Lexical-mode results: every hit built, ranked 1..n."""
    built = materialise(store, found, terms)
    out = [built[h.document_id] for h in found if h.document_id in built]
    for rank, hit in enumerate(out, 1):
        hit.rank = rank
    return out


def snippet(text_: str, terms: set[str], width: int = SNIPPET_TOKENS) -> str:
    """About ``width`` words of ``text_`` around its first query term (``width // 5``
    words before it), words being what lies between whitespace.

    Built with a few string operations: tokenising a whole 3 KB article for
    every hit was 70% of a hybrid query, and even 50 regex tokens cost ~0.1 ms a
    hit. The words before are looked for in the ``LOOK_BACK_CHARS`` characters
    a word before it (fewer words show when they are longer).
    """
    lowered = text_.lower()
    if len(lowered) != len(text_):  # lower() moved offsets (rare letters): search the text itself
        lowered = text_
    at = _first_word(lowered, terms)
    if at > 0 and not text_[at - 1].isspace():  # inside a token ("(volcano"): from its start
        at = _token_start(text_, at)
    back = width // 5
    low = max(0, at - LOOK_BACK_CHARS * back)
    before = text_[low:at].split()
    if low > 0 and before and not text_[low - 1].isspace():
        before = before[1:]  # a word the look-back window cut
    cut = len(before) > back or (low > 0 and _NON_SPACE.search(text_, 0, low + 1) is not None)
    before = before[max(0, len(before) - back):] if back else []
    wanted = width - len(before)
    after = text_[at : at + 24 * width].split(maxsplit=wanted)
    if not before and not after:
        return text_[:200]
    more = len(after) > wanted or _NON_SPACE.search(text_, at + 24 * width) is not None
    return ("…" if cut else "") + " ".join(before + after[:wanted]) + ("…" if more else "")


_NON_SPACE = re.compile(r"\S")


def _token_start(text_: str, end: int) -> int:
    """Where the whitespace-delimited token ending at ``end`` starts. Looks back a
    window at a time: rfind over the whole prefix, for a tab that news text never
    has, was most of a snippet's time."""
    low = end
    while low > 0:
        low = max(0, low - 256)
        cut = max(text_.rfind(" ", low, end), text_.rfind("\n", low, end), text_.rfind("\t", low, end))
        if cut >= 0:
            return cut + 1
    return 0


def _first_word(lowered: str, terms: set[str], window: int = 512) -> int:
    """Offset of the first whole-word occurrence of any term (0 if none).

    Looks in the first ``window`` characters first (where a query word usually
    is), and never past the best offset so far: a ``find`` over a whole 3 KB
    article for every query word was half of a snippet's time."""
    best = -1
    for limit in (window, len(lowered)):
        for term in terms:
            if not term:
                continue
            bound = (best if best >= 0 else limit) + len(term)  # only occurrences starting up to there
            at = lowered.find(term, 0, bound)
            while at >= 0:
                end = at + len(term)
                if (at == 0 or not lowered[at - 1].isalnum()) and (end == len(lowered) or not lowered[end].isalnum()):
                    best = at
                    break
                at = lowered.find(term, at + 1, bound)
        if best >= 0 or limit >= len(lowered):
            break
    return max(best, 0)


def _informative(index: LexicalIndex, words: list[list[str]]) -> list[list[str]]:
    """Drop terms found in more than half of the collection's documents ("the"),
    or, in large collections, more than a quarter ("a").

    BM25 gives them little weight (IDF about 0 above half, at most log(3) above
    a quarter, against 4 to 10 for the words that pick documents out), but
    OR-ing them makes the search score a large share of all documents. In
    small collections a quarter of the documents can be a topic ("space" in a
    two-newsgroup sample), so only the half rule applies there (measured:
    bench/quality.py). A query made only of such words keeps them. A word the
    analyser splits (``there's``, ``one-year``: a phrase) is dropped only when
    each of its pieces is such a word: its documents are then a large share too
    (at most its rarest piece's), and a phrase query over them checks positions
    in every one (10 ms of a 100k-article query, measured, against 0.3 ms).
    """
    if len(words) < 2:
        return words
    total = index.documents
    if total <= 0:
        return words
    limit = (LARGE_STORE_MAX_DF_FRACTION if total >= LARGE_STORE else MAX_DF_FRACTION) * total
    kept = [w for w in words if any(index.doc_freq(token) <= limit for token in w)]
    return kept or words


def document_terms(index: LexicalIndex, document_text: str, limit: int = SIMILAR_TERMS) -> list[str]:
    """The words that best stand for a document: highest tf * idf (idf from the
    collection's index); words in no other document are left out."""
    counts = Counter(t for t in lexical_query.analyse(document_text) if len(t) > 1)
    if not counts:
        return []
    df = {word: index.doc_freq(word) for word in counts}
    total = max(index.documents, max(df.values(), default=1))
    scored = [(tf * math.log(1 + total / df[word]), word) for word, tf in counts.items() if df[word] > 1]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [word for _, word in scored[:limit]]
