"""``vecdex serve``: vecdex as an HTTP service (FastAPI + uvicorn, the ``server`` extra),
and :class:`~vecdex.search.server.client.Client`, its Python client.

- :mod:`.app` builds the application; :mod:`.routes` holds one thin route per library call.
- :mod:`.service` is a worker's state: the open store, its collections, read-your-writes.
- :mod:`.auth` checks bearer tokens; :mod:`.limits` the request limits; :mod:`.metrics` Prometheus.
- :mod:`vecdex.search.commands.server` holds the ``vecdex serve`` and ``vecdex token`` commands.

Nothing here is imported by ``import vecdex``; FastAPI only by :mod:`.app`.
"""
