"""The routes: one thin function per library call (auth, limits, read-your-writes
around it). Paths and field names are a contract (issue 13): keep them."""

from __future__ import annotations

import base64
import json
from typing import Any, Optional

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ...errors import QueryError
from ..hits import Hit
from . import models as m
from .auth import Authenticator, Principal
from .errors import ApiError, ErrorBody
from .service import Service

_bearer = HTTPBearer(auto_error=False, description="A token from `vecdex token create` (not needed while the "
                                                   "store has none and the server listens on localhost).")

_ERRORS = {status: {"model": ErrorBody} for status in (400, 401, 403, 404, 409, 413, 422, 503)}
_ERRORS[500] = {"model": ErrorBody, "description": "A bug (the server log has the details)."}

router = APIRouter(prefix="/v1", responses=_ERRORS)  # no_unknown_query: added app-wide in app.py


class Caller:
    """What a route needs about a request: the worker's service and who is asking."""

    __slots__ = ("svc", "who")

    def __init__(self, svc: Service, who: Principal):
        self.svc, self.who = svc, who

    def may(self, scope: str, collection: str | None = None) -> Service:
        Authenticator.require(self.who, scope, collection)
        return self.svc


# One dependency per route, a coroutine: a plain function would cost a thread-pool
# hop (~0.1 ms) and every extra dependency its own resolution. It only reads memory
# and, when the store changed, the token table.
async def caller(request: Request, credentials: Optional[HTTPAuthorizationCredentials] = Depends(_bearer)) -> Caller:
    _check_query(request)
    app = request.app
    return Caller(app.state.service, app.state.auth.principal(request.headers.get("authorization")))


_QUERY_NAMES: dict[int, frozenset[str]] = {}


async def no_unknown_query(request: Request) -> None:
    _check_query(request)


def _check_query(request: Request) -> None:
    """Refuse query parameters a route does not take (a typo must not be silently ignored)."""
    if not request.query_params:
        return
    route = request.scope.get("route")
    known = _QUERY_NAMES.get(id(route))
    if known is None:
        known = _QUERY_NAMES[id(route)] = frozenset(_query_names(getattr(route, "dependant", None)))
    unknown = sorted(set(request.query_params.keys()) - known)
    if unknown:
        raise ApiError(400, "unknown_parameter", f"unknown query parameter {', '.join(map(repr, unknown))}"
                       + (f" (this route takes: {', '.join(sorted(known))})" if known else ""))


def _query_names(dependant) -> set[str]:
    if dependant is None:
        return set()
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def _check_k(svc: Service, k: int) -> None:
    if k > svc.settings.max_k:
        raise ApiError(400, "k_too_large", f"k is {k}; this server answers at most k={svc.settings.max_k} (--max-k)")


def _check_batch(svc: Service, n: int, what: str) -> None:
    if n > svc.settings.max_batch:
        raise ApiError(413, "batch_too_large", f"{n} {what} in one request; the limit is {svc.settings.max_batch} "
                       "(--max-batch): send smaller batches (the Python client splits them itself)")


def _json(content: dict[str, Any]) -> Response:
    """The hot routes answer with their JSON directly: the response model stays in the
    OpenAPI document (and schemathesis checks answers against it), but FastAPI's
    re-validation and its extra thread-pool hop for a plain function are skipped."""
    return Response(json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":")),
                    media_type="application/json")


def _hits(hits: list[Hit]) -> list[dict[str, Any]]:
    return [{"rank": h.rank, "id": h.id, "score": float(h.score), "snippet": h.snippet, "metadata": h.metadata}
            for h in hits]


def _ranking(body: m.ReadOptions) -> dict[str, Any]:
    out: dict[str, Any] = {"mode": body.mode, "nprobe": body.nprobe, "ef": body.ef}
    if body.fusion is not None:
        out["fusion"] = body.fusion
    if body.weights is not None:
        if body.weights.dense is not None:
            out["dense_weight"] = body.weights.dense
        if body.weights.lexical is not None:
            out["lexical_weight"] = body.weights.lexical
    return out


# -- search (first: routes are matched in order) ------------------------------------------


@router.post("/collections/{name}/search", response_model=m.Hits | m.BatchHits,
             summary="Search by text, by vector, or many texts at once")
def search(name: str, body: m.SearchIn, c: Caller = Depends(caller)):
    svc = c.may("read", name)
    _check_k(svc, body.k)
    collection = svc.collection(name)
    ranking = _ranking(body)
    seq = svc.covered(collection, body.min_seq, dense=body.mode != "lexical",
                      lexical=body.mode != "dense" and body.vector is None)
    if body.queries is not None:
        _check_batch(svc, len(body.queries), "queries")
        results = []
        for query, found in zip(body.queries, collection.search_many(body.queries, body.k, body.where, **ranking)):
            if isinstance(found, QueryError):
                results.append({"query": query, "hits": [], "error": str(found)})
            else:
                results.append({"query": query, "hits": _hits(found), "error": None})
        return _json({"results": results, "seq": seq})
    if body.vector is not None:
        if body.mode not in (None, "dense"):
            raise ApiError(400, "bad_query", "a vector search is dense only: leave mode out or use mode=dense")
        hits = collection.search_vector(body.vector, body.k, body.where, nprobe=body.nprobe, ef=body.ef)
    else:
        hits = collection.search(body.query, body.k, body.where, **ranking)
    return _json({"hits": _hits(hits), "seq": seq})


@router.post("/collections/{name}/similar", response_model=m.Hits, summary="Documents most like a stored one")
def similar(name: str, body: m.SimilarIn, c: Caller = Depends(caller)):
    svc = c.may("read", name)
    _check_k(svc, body.k)
    collection = svc.collection(name)
    seq = svc.covered(collection, body.min_seq, dense=body.mode != "lexical", lexical=body.mode != "dense")
    return _json({"hits": _hits(collection.similar(body.id, body.k, body.where, **_ranking(body))), "seq": seq})


# -- collections -----------------------------------------------------------------------------


@router.get("/collections", response_model=m.CollectionList, summary="List collections")
def list_collections(c: Caller = Depends(caller)):
    svc = c.may("read")
    out = []
    for info in svc.infos():
        if not c.who.sees(info.name):
            continue
        n_docs, n_chunks = svc.store.counts(info.id)
        out.append({"name": info.name, "documents": n_docs, "chunks": n_chunks, "embedder": info.embedder.get("kind"),
                    "model": info.embedder.get("model"), "dimension": info.embedder.get("dimension"),
                    "index": info.index_spec.get("type"), "seq": info.seq})
    return {"collections": out}


@router.post("/collections", response_model=m.CollectionStats, status_code=201, summary="Create a collection")
def create_collection(body: m.CollectionCreate, c: Caller = Depends(caller)):
    svc = c.may("admin", body.name)
    options: dict[str, Any] = {"embedder": body.embedder, "model": body.model, "index": body.index}
    if body.pooling is not None:
        options["pooling"] = body.pooling
    if body.dimension is not None:
        options["dimension"] = body.dimension
    collection = svc.create(body.name, **options)
    return {**collection.stats(), "seq": collection.info.seq}


@router.get("/collections/{name}", response_model=m.CollectionStats, summary="Collection stats (as vecdex info --json)")
def collection_stats(name: str, c: Caller = Depends(caller)):
    svc = c.may("read", name)
    collection = svc.collection(name)
    stats = collection.stats()
    return {**stats, "seq": stats["writes"]}


@router.delete("/collections/{name}", response_model=m.Dropped, summary="Drop a collection and all its documents")
def drop_collection(name: str, c: Caller = Depends(caller)):
    svc = c.may("admin", name)
    svc.drop(name)
    return {"dropped": name}


# -- documents -------------------------------------------------------------------------------


@router.post("/collections/{name}/documents", response_model=m.WriteResult, summary="Add or update documents")
def upsert_documents(name: str, body: m.DocumentsIn, c: Caller = Depends(caller)):
    svc = c.may("write", name)
    _check_batch(svc, len(body.documents), "documents")
    collection = svc.collection(name)
    with svc.write_lock:
        if collection.info.embedder.get("kind") == "precomputed":
            report = _add_vectors(collection, body.documents)
        else:
            if any(d.vector is not None for d in body.documents):
                raise ApiError(400, "bad_input", f"collection {name!r} embeds text itself: leave 'vector' out "
                               "(vectors are for collections made with embedder=precomputed)")
            report = collection.add([{"id": d.id, "text": d.text, "metadata": d.metadata or {}}
                                     for d in body.documents], workers=1)
        seq = collection.store_seq()
    problems = [{"id": p.source, "reason": p.message} for p in report.problems[:100]]
    return {"added": report.added, "updated": report.updated, "unchanged": report.unchanged,
            "failed": report.failed, "seq": seq, "problems": problems}


def _add_vectors(collection, documents: list[m.DocumentIn]):
    if any(d.vector is None for d in documents):
        raise ApiError(400, "bad_input", f"collection {collection.name!r} holds precomputed vectors: every "
                       "document needs a 'vector'")
    if len({d.id for d in documents}) != len(documents):
        raise ApiError(400, "bad_input", "document ids must be unique within one request")
    return collection.add_vectors([d.id for d in documents], [d.vector for d in documents],
                                  texts=[d.text for d in documents], metadata=[d.metadata for d in documents])


@router.get("/collections/{name}/documents", response_model=m.DocumentPage, summary="A page of documents")
def list_documents(name: str, limit: int = Query(100, ge=1), cursor: Optional[str] = None,
                   where: Optional[list[str]] = Query(None, description="FIELD=VALUE (or !=, <, >, <=, >=); "
                                                      "repeat to AND several."),
                   min_seq: Optional[int] = Query(None, ge=0),
                   c: Caller = Depends(caller)):
    svc = c.may("read", name)
    if limit > svc.settings.max_page:
        raise ApiError(400, "limit_too_large", f"limit is {limit}; pages hold at most {svc.settings.max_page}")
    collection = svc.collection(name)
    seq = svc.covered(collection, min_seq, dense=False)
    from ..filters import normalise_filters

    page, after = svc.store.document_page(collection.info.id, after=_decode_cursor(cursor), limit=limit,
                                          filters=normalise_filters(where))
    return _json({"documents": page, "next_cursor": _encode_cursor(after) if after is not None else None, "seq": seq})


def _encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(f"d{after}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("d") or not text[1:].isdigit():
            raise ValueError
        return int(text[1:])
    except ValueError:
        raise ApiError(400, "bad_cursor", "cursor is not one this server handed out (pass next_cursor as is)") \
            from None


@router.get("/collections/{name}/documents/{doc_id:path}", response_model=m.Document, summary="One document")
def get_document(name: str, doc_id: str, min_seq: Optional[int] = Query(None, ge=0),
                 c: Caller = Depends(caller)):
    svc = c.may("read", name)
    collection = svc.collection(name)
    svc.covered(collection, min_seq, dense=False)
    document = collection.get(doc_id)
    if document is None:
        raise ApiError(404, "document_not_found", f"no document with id {doc_id!r} in collection {name!r}")
    document.pop("content_hash", None)
    return _json(document)


@router.delete("/collections/{name}/documents", response_model=m.DeleteResult, summary="Delete documents by id")
def delete_documents(name: str, body: m.DeleteIn, c: Caller = Depends(caller)):
    svc = c.may("write", name)
    _check_batch(svc, len(body.ids), "ids")
    collection = svc.collection(name)
    ids = list(dict.fromkeys(body.ids))
    with svc.write_lock:
        missing = collection.delete(ids)
        seq = collection.store_seq()
    return {"deleted": len(ids) - len(missing), "not_found": missing, "seq": seq}


@router.get("/collections/{name}/count", response_model=m.Count, summary="How many documents")
def count_documents(name: str, min_seq: Optional[int] = Query(None, ge=0), c: Caller = Depends(caller)):
    svc = c.may("read", name)
    collection = svc.collection(name)
    seq = svc.covered(collection, min_seq, dense=False)
    return _json({"count": collection.count(), "seq": seq})


@router.get("/limits", response_model=m.Limits, summary="This server's request limits",
            dependencies=[Depends(no_unknown_query)])
def limits(request: Request):
    s = request.app.state.service.settings
    return {"max_body_bytes": s.max_body_bytes, "max_k": s.max_k, "max_batch": s.max_batch,
            "max_page": s.max_page, "read_timeout": s.read_timeout}
