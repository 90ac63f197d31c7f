"""One plain ASGI middleware for what every request needs: the body-size limit
(413 before the body is read when Content-Length says so, else while it streams),
Prometheus counts and latency per route template, and a header naming the worker
process that answered (tests and operators can see requests spread over workers)."""

from __future__ import annotations

import os
import time

from .errors import ApiError
from .metrics import LATENCY, REQUESTS


class BodyTooLarge(ApiError):
    def __init__(self, limit: int, size: int | None = None):
        told = f"{size / 2**20:.1f} MB" if size else "more"
        super().__init__(413, "payload_too_large",
                         f"request body is {told} than the limit of {limit} bytes ({limit / 2**20:g} MB): "
                         "send smaller batches (the Python client splits them itself)")


class ServerMiddleware:
    def __init__(self, app, max_body_bytes: int):
        self.app = app
        self.limit = max_body_bytes
        self.worker = str(os.getpid()).encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = [500]
        limit = self.limit
        length = None
        for key, value in scope["headers"]:
            if key == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
                break
        worker = self.worker

        async def send_wrapped(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = list(message.get("headers", [])) + [(b"x-vecdex-worker", worker)]
            await send(message)

        if length is not None and length > limit:
            await _reject(scope, receive, send_wrapped, BodyTooLarge(limit, length))
        else:
            seen = [0]

            async def receive_limited():
                message = await receive()
                if message["type"] == "http.request":
                    seen[0] += len(message.get("body", b""))
                    if seen[0] > limit:
                        raise BodyTooLarge(limit)
                return message

            await self.app(scope, receive_limited, send_wrapped)
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        REQUESTS.labels(method, template, str(status[0])).inc()
        LATENCY.labels(method, template).observe(time.perf_counter() - started)


async def _reject(scope, receive, send, error: ApiError) -> None:
    from .errors import error_response

    response = error_response(error.status_code, error.code, error.message, {"connection": "close"})
    await response(scope, receive, send)
