"""Request and response bodies of the HTTP API (the contract other tools call:
keep names stable). Limits that depend on the server's settings (k, batch sizes)
are checked in the routes, so the schema stays the same for every server."""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

Where = Union[list[str], dict[str, Union[str, int, float, bool, None]]]
Mode = Literal["dense", "lexical", "hybrid"]
Fusion = Literal["score", "rrf", "minmax"]

_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CollectionCreate(Strict):
    name: str = Field(pattern=_NAME, description="Letters, digits, '.', '_', '-'; up to 128 characters.")
    embedder: Optional[str] = Field(None, description="static (default), transformer, elmo or precomputed.")
    model: Optional[str] = Field(None, description="A model name or a path on the server "
                                 "(default glove-6b-50d; transformer: all-MiniLM-L6-v2).")
    index: Optional[str] = Field(None, description="Vector index spec, e.g. auto, flat, hnsw:M=32.")
    pooling: Optional[str] = Field(None, description="sif or mean (static), mean or max (elmo), mean (transformer).")
    dimension: Optional[int] = Field(None, ge=1, le=65536, description="Vector dimension (precomputed only).")


class CollectionSummary(BaseModel):
    name: str
    documents: int
    chunks: int
    embedder: Optional[str] = None
    model: Optional[str] = None
    dimension: Optional[int] = None
    index: Optional[str] = None
    seq: int


class CollectionList(BaseModel):
    collections: list[CollectionSummary]


class CollectionStats(BaseModel):
    """As ``vecdex info --json``, plus the collection's ``seq``."""

    model_config = ConfigDict(extra="allow")
    collection: str
    documents: int
    chunks: int
    dimension: int
    model: Optional[str] = None
    seq: int


class Dropped(BaseModel):
    dropped: str


class DocumentIn(Strict):
    id: str = Field(min_length=1, max_length=1024)
    text: str = ""
    metadata: Optional[dict[str, Any]] = None
    vector: Optional[list[float]] = Field(None, description="Your own vector (collections made with "
                                                            "embedder=precomputed only; then required).")


class DocumentsIn(Strict):
    documents: list[DocumentIn]


class Problem(BaseModel):
    id: str
    reason: str


class WriteResult(BaseModel):
    added: int
    updated: int
    unchanged: int
    failed: int
    seq: int = Field(description="The collection's write counter after this write: pass it as min_seq to read it.")
    problems: list[Problem] = []


class DeleteIn(Strict):
    ids: list[str]


class DeleteResult(BaseModel):
    deleted: int
    not_found: list[str]
    seq: int


class Document(BaseModel):
    id: str
    text: str
    metadata: dict[str, Any]
    source: Optional[str] = None
    created_at: Optional[float] = None
    updated_at: Optional[float] = None


class DocumentPage(BaseModel):
    documents: list[Document]
    next_cursor: Optional[str] = Field(None, description="Pass as cursor for the next page; null at the end.")
    seq: int


class Count(BaseModel):
    count: int
    seq: int


class Weights(Strict):
    dense: Optional[float] = Field(None, ge=0, le=1000)
    lexical: Optional[float] = Field(None, ge=0, le=1000)


class ReadOptions(Strict):
    k: int = Field(10, ge=1)
    where: Optional[Where] = None
    mode: Optional[Mode] = None
    fusion: Optional[Fusion] = None
    weights: Optional[Weights] = None
    ef: Optional[int] = Field(None, ge=1, le=100000)
    nprobe: Optional[int] = Field(None, ge=1, le=100000)
    min_seq: Optional[int] = Field(None, ge=0, description="Answer only from a state covering this write counter.")


class SearchIn(ReadOptions):
    query: Optional[str] = None
    vector: Optional[list[float]] = None
    queries: Optional[list[str]] = None

    @model_validator(mode="after")
    def _one_kind(self) -> "SearchIn":
        given = [name for name in ("query", "vector", "queries") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of query, vector or queries")
        return self


class SimilarIn(ReadOptions):
    id: str = Field(min_length=1)


class HitOut(BaseModel):
    rank: int
    id: str
    score: float
    snippet: str
    metadata: dict[str, Any]


class Hits(BaseModel):
    hits: list[HitOut]
    seq: int


class QueryResult(BaseModel):
    query: str
    hits: list[HitOut]
    error: Optional[str] = Field(None, description="Why this query has no answer (the others still do).")


class BatchHits(BaseModel):
    results: list[QueryResult]
    seq: int


class Limits(BaseModel):
    max_body_bytes: int
    max_k: int
    max_batch: int
    max_page: int
    read_timeout: float


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    collections: int = 0
    message: Optional[str] = None
