"""A Python client for ``vecdex serve`` with the local API's collection surface.

    import vecdex
    client = vecdex.Client("http://127.0.0.1:8000", token=None)
    news = client.collection("news", create=True)
    news.add([{"id": "a", "text": "Floods closed the valley road.", "metadata": {"year": 2021}}])
    for hit in news.search("flooding", k=3):
        print(hit.id, hit.score, hit.snippet)

Reads see this client's own writes: each write's ``seq`` is sent as ``min_seq``
with later reads of that collection, whichever server worker answers. Batches
are split to fit the server's limits (and split again on a 413). Errors raise
the same :class:`vecdex.VecdexError` subclasses as the local API, with ``status``
and ``code`` from the server's answer.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ...errors import (ConfigError, EmbedderError, InputError, ModelMismatchError, QueryError, StoreError,
                       VecdexError)
from ..hits import Hit


class RemoteError(VecdexError):
    """An error answer with no closer library class (auth, limits, unavailable)."""


class AuthError(RemoteError):
    """401 or 403: no token, a wrong one, or one without the needed scope."""


_CODES: dict[str, type[VecdexError]] = {
    "collection_not_found": StoreError, "collection_exists": StoreError, "store_error": StoreError,
    "document_not_found": QueryError, "bad_query": QueryError, "k_too_large": QueryError,
    "model_mismatch": ModelMismatchError, "bad_option": ConfigError, "bad_model": EmbedderError,
    "bad_input": InputError, "invalid_request": InputError, "bad_cursor": InputError,
    "unauthorized": AuthError, "forbidden": AuthError,
}


@dataclass
class WriteReport:
    """What a write did (the local API's report fields, plus the collection's ``seq``)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    seq: int = 0
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def documents(self) -> int:
        return self.added + self.updated + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged, "failed": self.failed,
                "seq": self.seq}


class Client:
    """A vecdex server. ``token``: a bearer token from ``vecdex token create``."""

    def __init__(self, url: str = "http://127.0.0.1:8000", token: str | None = None, *, timeout: float = 60.0):
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
        self._seq: dict[str, int] = {}
        self._seq_lock = threading.Lock()
        self._limits: dict[str, Any] | None = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing --------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One API call; a 4xx/5xx raises the matching :class:`VecdexError`."""
        import httpx

        content = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = self._http.request(method, path, content=content, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response)
        return response.json() if response.content else None

    def limits(self) -> dict[str, Any]:
        if self._limits is None:
            self._limits = self.request("GET", "/v1/limits")
        return self._limits

    def _saw(self, collection: str, seq: int) -> None:
        with self._seq_lock:
            self._seq[collection] = max(seq, self._seq.get(collection, 0))

    def _min_seq(self, collection: str) -> int | None:
        return self._seq.get(collection)

    # -- collections -----------------------------------------------------------------------

    def collections(self) -> list[dict[str, Any]]:
        """Every collection this token may see: name, documents, chunks, model, seq..."""
        return self.request("GET", "/v1/collections")["collections"]

    def collection(self, name: str = "default", *, create: bool = False, embedder: str | None = None,
                   model: str | None = None, index: str | None = None, pooling: str | None = None,
                   dimension: int | None = None) -> "RemoteCollection":
        """Open a collection; with ``create=True`` make it when missing (admin scope).

        As locally, an existing collection must match what is asked: another embedder,
        model or pooling raises :class:`ModelMismatchError`, another index ``ConfigError``."""
        if create:
            body = {k: v for k, v in {"name": name, "embedder": embedder, "model": model, "index": index,
                                      "pooling": pooling, "dimension": dimension}.items() if v is not None}
            try:
                self.request("POST", "/v1/collections", body)
            except StoreError as exc:
                if getattr(exc, "code", None) != "collection_exists":
                    raise
        else:
            self.request("GET", f"/v1/collections/{_quote(name)}")
        return RemoteCollection(self, name)

    def drop(self, name: str) -> None:
        """Delete a collection and all its documents (admin scope)."""
        self.request("DELETE", f"/v1/collections/{_quote(name)}")
        with self._seq_lock:
            self._seq.pop(name, None)


class RemoteCollection:
    """A collection on a server: ``add``/``search``/``similar``/``delete``/``get`` as locally."""

    def __init__(self, client: Client, name: str):
        self.client = client
        self.name = name
        self._path = f"/v1/collections/{_quote(name)}"

    def __repr__(self) -> str:
        return f"RemoteCollection({self.client.url!r}, {self.name!r})"

    def _read(self, body: dict[str, Any]) -> dict[str, Any]:
        min_seq = self.client._min_seq(self.name)
        if min_seq is not None:
            body["min_seq"] = min_seq
        return body

    # -- writes ------------------------------------------------------------------------------

    def add(self, documents: Iterable[Mapping[str, Any] | Sequence[Any]], **_: Any) -> WriteReport:
        """Insert or update documents by id (dicts ``{"id", "text", "metadata"?}`` or tuples
        ``(id, text[, metadata])``), in as many requests as the server's limits need."""
        report = WriteReport()
        for batch in self._batches([_as_dict(d) for d in documents]):
            self._send(batch, report)
        return report

    upsert = add

    def add_vectors(self, ids: Sequence[str], vectors: Any, texts: Sequence[str] | None = None,
                    metadata: Sequence[Mapping[str, Any] | None] | None = None) -> WriteReport:
        """Documents with your own vectors (collections made with ``embedder="precomputed"``)."""
        ids = [str(i) for i in ids]
        documents = []
        for i, doc_id in enumerate(ids):
            doc: dict[str, Any] = {"id": doc_id, "text": texts[i] if texts is not None else "",
                                   "vector": [float(x) for x in vectors[i]]}
            if metadata is not None and metadata[i]:
                doc["metadata"] = dict(metadata[i])
            documents.append(doc)
        report = WriteReport()
        for batch in self._batches(documents):
            self._send(batch, report)
        return report

    def _batches(self, documents: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        limits = self.client.limits()
        budget = int(limits["max_body_bytes"] * 0.9) - 64
        batch: list[dict[str, Any]] = []
        size = 0
        for doc in documents:
            doc_size = len(json.dumps(doc, ensure_ascii=False).encode("utf-8")) + 1
            if batch and (len(batch) >= limits["max_batch"] or size + doc_size > budget):
                yield batch
                batch, size = [], 0
            batch.append(doc)
            size += doc_size
        if batch:
            yield batch

    def _send(self, batch: list[dict[str, Any]], report: WriteReport) -> None:
        try:
            result = self.client.request("POST", self._path + "/documents", {"documents": batch})
        except RemoteError as exc:
            if getattr(exc, "status", None) != 413 or len(batch) == 1:
                raise
            half = len(batch) // 2  # the server's limit is lower than we thought: split and retry
            self._send(batch[:half], report)
            self._send(batch[half:], report)
            return
        for key in ("added", "updated", "unchanged", "failed"):
            setattr(report, key, getattr(report, key) + result[key])
        report.problems.extend(result.get("problems", []))
        report.seq = max(report.seq, result["seq"])
        self.client._saw(self.name, result["seq"])

    def delete(self, ids: Sequence[str]) -> list[str]:
        """Delete documents by id; returns the ids that were not found."""
        ids = [str(i) for i in ids]
        missing: list[str] = []
        step = self.client.limits()["max_batch"]
        for start in range(0, len(ids), step):
            result = self.client.request("DELETE", self._path + "/documents", {"ids": ids[start:start + step]})
            missing.extend(result["not_found"])
            if result["seq"] >= 0:
                self.client._saw(self.name, result["seq"])
        return missing

    # -- reads -------------------------------------------------------------------------------

    def search(self, query: str, k: int = 10, where: Any = None, *, mode: str | None = None,
               nprobe: int | None = None, ef: int | None = None, **ranking: Any) -> list[Hit]:
        body = self._options(k, where, mode, nprobe, ef, ranking)
        body["query"] = query
        return _hits(self.client.request("POST", self._path + "/search", self._read(body))["hits"])

    def search_many(self, queries: Sequence[str], k: int = 10, where: Any = None, *, mode: str | None = None,
                    nprobe: int | None = None, ef: int | None = None, **ranking: Any) -> list[list[Hit] | QueryError]:
        """Several queries; a query that cannot be answered yields its QueryError in place."""
        queries = list(queries)
        out: list[list[Hit] | QueryError] = []
        step = self.client.limits()["max_batch"]
        for start in range(0, len(queries), step):
            body = self._options(k, where, mode, nprobe, ef, ranking)
            body["queries"] = queries[start:start + step]
            for result in self.client.request("POST", self._path + "/search", self._read(body))["results"]:
                out.append(QueryError(result["error"]) if result.get("error") else _hits(result["hits"]))
        return out

    def search_vector(self, vector: Any, k: int = 10, where: Any = None, *, nprobe: int | None = None,
                      ef: int | None = None) -> list[Hit]:
        body = self._options(k, where, None, nprobe, ef, {})
        body["vector"] = [float(x) for x in vector]
        return _hits(self.client.request("POST", self._path + "/search", self._read(body))["hits"])

    def similar(self, doc_id: str, k: int = 10, where: Any = None, *, mode: str | None = None,
                nprobe: int | None = None, ef: int | None = None, **ranking: Any) -> list[Hit]:
        body = self._options(k, where, mode, nprobe, ef, ranking)
        body["id"] = str(doc_id)
        return _hits(self.client.request("POST", self._path + "/similar", self._read(body))["hits"])

    def get(self, doc_id: str) -> dict[str, Any] | None:
        try:
            return self.client.request("GET", f"{self._path}/documents/{_quote(str(doc_id), safe='/')}",
                                       params=self._read({}))
        except QueryError as exc:
            if getattr(exc, "code", None) == "document_not_found":
                return None
            raise

    def documents(self, where: Any = None, *, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every document, a page at a time (``where``: filters as in search)."""
        params: dict[str, Any] = self._read({"limit": min(batch, self.client.limits()["max_page"])})
        if where:
            params["where"] = [where] if isinstance(where, str) else (
                [f"{k}={_filter_value(v)}" for k, v in where.items()] if isinstance(where, Mapping) else list(where))
        while True:
            page = self.client.request("GET", self._path + "/documents", params=params)
            yield from page["documents"]
            if not page["next_cursor"]:
                return
            params["cursor"] = page["next_cursor"]

    def count(self) -> int:
        return self.client.request("GET", self._path + "/count", params=self._read({}))["count"]

    def stats(self) -> dict[str, Any]:
        return self.client.request("GET", self._path)

    @staticmethod
    def _options(k, where, mode, nprobe, ef, ranking: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {"k": k}
        for key, value in (("where", where), ("mode", mode), ("nprobe", nprobe), ("ef", ef),
                           ("fusion", ranking.pop("fusion", None))):
            if value is not None:
                body[key] = [where] if key == "where" and isinstance(value, str) else value
        weights = {side: ranking.pop(f"{side}_weight") for side in ("dense", "lexical")
                   if ranking.get(f"{side}_weight") is not None}
        if weights:
            body["weights"] = weights
        unknown = [key for key, value in ranking.items() if value is not None]
        if unknown:
            raise ConfigError(f"unknown search option(s) {', '.join(unknown)} for the HTTP API")
        return body


def _quote(text: str, safe: str = "") -> str:
    from urllib.parse import quote

    return quote(text, safe=safe)


def _filter_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _as_dict(doc: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    if isinstance(doc, Mapping):
        out = {"id": str(doc.get("id", "")), "text": doc.get("text", "")}
        if doc.get("metadata"):
            out["metadata"] = dict(doc["metadata"])
        return out
    doc_id, text, *rest = doc
    out = {"id": str(doc_id), "text": text}
    if rest and rest[0]:
        out["metadata"] = dict(rest[0])
    return out


def _hits(rows: list[dict[str, Any]]) -> list[Hit]:
    return [Hit(r["id"], r["score"], r["snippet"], r["metadata"], r["rank"]) for r in rows]


def _error(response) -> VecdexError:
    try:
        body = response.json()
        code, message = str(body["error"]), str(body["message"])
    except Exception:
        code, message = "http_error", f"HTTP {response.status_code}: {response.text[:200]}"
    error = _CODES.get(code, AuthError if response.status_code in (401, 403) else RemoteError)(message)
    error.status, error.code = response.status_code, code  # type: ignore[attr-defined]
    return error
