"""The FastAPI application: routes, error shapes, limits, metrics, the search page.

    uvicorn --factory vecdex.search.server.app:app_from_env     # what `vecdex serve` runs

``create_app(Settings(db=...))`` builds one for a store (tests use it in-process).
"""

from __future__ import annotations

import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from ... import __version__
from . import errors, metrics
from .auth import Authenticator
from .middleware import ServerMiddleware
from .models import Health, Ready
from .routes import no_unknown_query, router
from .service import Service
from .settings import Settings

STATIC = Path(__file__).resolve().parent / "static"

DESCRIPTION = """vecdex over HTTP: collections, documents, search.

Every write answers with the collection's `seq`; pass it as `min_seq` to any read
(through any worker) to be sure the answer includes that write. Errors are
`{"error": code, "message": ...}` with a 4xx status."""


def create_app(settings: Settings) -> FastAPI:
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if settings.warm:
            threading.Thread(target=service.warm, name="vecdex-warm", daemon=True).start()
        else:
            service.ready = True
        yield
        service.close()

    app = FastAPI(title="vecdex", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    checked = [Depends(no_unknown_query)]  # the /v1 routes check their query through their one dependency
    app.state.service = service
    app.state.auth = Authenticator(service.store)
    errors.install(app)
    app.include_router(router)
    app.add_middleware(ServerMiddleware, max_body_bytes=settings.max_body_bytes)

    @app.get("/healthz", response_model=Health, summary="Liveness: the process answers", dependencies=checked)
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", response_model=Ready, responses={503: {"model": Ready}},
             summary="Readiness: the store answers and every collection's model and index are loaded",
             dependencies=checked)
    def readyz():
        try:
            count = len(service.infos())
        except Exception as exc:  # the store itself is unreachable
            return JSONResponse({"status": "unavailable", "message": f"store: {exc}"}, status_code=503)
        if service.warm_error:
            return JSONResponse({"status": "unavailable", "collections": count, "message": service.warm_error},
                                status_code=503)
        if not service.ready:
            return JSONResponse({"status": "loading", "collections": count, "message": "loading models and indexes"},
                                status_code=503)
        return {"status": "ready", "collections": count}

    @app.get("/metrics", response_class=Response, summary="Prometheus metrics",
             responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
                        401: {"model": errors.ErrorBody}}, dependencies=checked)
    def prometheus(request: Request):
        app.state.auth.principal(request.headers.get("authorization"))  # any valid token may scrape
        return Response(metrics.render(service), media_type=metrics.CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str):
        path = STATIC / name
        if name not in _STATIC_FILES:
            raise errors.ApiError(404, "not_found", f"no file {name!r}")
        return FileResponse(path, media_type=_STATIC_FILES[name])

    return app


_STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}


def app_from_env() -> FastAPI:
    """The factory uvicorn calls in every worker (settings from ``VECDEX_SERVE_*``)."""
    return create_app(Settings.from_env())
