"""Prometheus metrics: requests and latency per route (every worker, summed through
prometheus_client's multiprocess mode when ``--workers`` > 1), and, read from the
store at scrape time, documents and chunks per collection and how many writes each
cache is behind the store."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from .service import Service

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Module-level: created once per process (the registry refuses duplicates).
REQUESTS = Counter("vecdex_http_requests", "HTTP requests answered.", ["method", "route", "status"])
LATENCY = Histogram("vecdex_http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "route"],
                    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


class StoreCollector:
    """Gauges read from the store (and this worker's open indexes) on each scrape."""

    def __init__(self, service: "Service"):
        self.service = service

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store, indexes = self.service.store, self.service.vx.indexes
        docs = GaugeMetricFamily("vecdex_collection_documents", "Documents in a collection.", labels=["collection"])
        chunks = GaugeMetricFamily("vecdex_collection_chunks", "Chunks (vectors) in a collection.",
                                   labels=["collection"])
        seq = GaugeMetricFamily("vecdex_collection_seq", "The collection's write counter in the store.",
                                labels=["collection"])
        lag = GaugeMetricFamily("vecdex_index_lag_writes",
                                "Writes the vector index this worker holds in memory is behind the store "
                                "(caught up on the next read; absent until the collection is read).",
                                labels=["collection", "pid"])
        file_lag = GaugeMetricFamily("vecdex_index_file_lag_writes",
                                     "Writes the newest index file on disk is behind the store.", labels=["collection"])
        lexical_lag = GaugeMetricFamily("vecdex_lexical_lag_writes",
                                        "Writes the lexical (tantivy) index this worker holds open is behind the "
                                        "store (caught up on the next lexical or hybrid read).",
                                        labels=["collection", "pid"])
        open_seqs, file_seqs = indexes.open_seqs(), indexes.file_seqs()
        lexical_seqs = self.service.vx.lexical.open_seqs()
        pid = str(os.getpid())
        for info in store.list_collections():
            n_docs, n_chunks = store.counts(info.id)
            docs.add_metric([info.name], n_docs)
            chunks.add_metric([info.name], n_chunks)
            seq.add_metric([info.name], info.seq)
            if info.id in open_seqs:
                lag.add_metric([info.name, pid], max(0, info.seq - open_seqs[info.id]))
            file_lag.add_metric([info.name], max(0, info.seq - file_seqs.get(info.id, 0)))
            if info.id in lexical_seqs:
                lexical_lag.add_metric([info.name, pid], max(0, info.seq - lexical_seqs[info.id]))
        yield from (docs, chunks, seq, lag, file_lag, lexical_lag)


def render(service: "Service") -> bytes:
    """The /metrics page: request metrics of every worker plus the store's gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Local())
    registry.register(StoreCollector(service))
    return generate_latest(registry)


class _Local:
    """This process's request metrics (single-process mode)."""

    def collect(self):
        yield from REQUESTS.collect()
        yield from LATENCY.collect()
