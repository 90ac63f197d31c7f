"""Every error a client can cause is a 4xx with ``{"error": code, "message": ...}``,
the message one line in the style of the CLI's errors; a 500 means a bug (logged
here, never a traceback in the response)."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ...errors import (ConfigError, EmbedderError, EvaluationError, InputError, ModelMismatchError, QueryError,
                       StoreError, VecdexError)

log = logging.getLogger("vecdex.server")


class ErrorBody(BaseModel):
    """What every error response holds."""

    error: str
    message: str


class ApiError(StarletteHTTPException):
    """An error answer: HTTP status, a stable machine-readable code, a message for people.
    (A Starlette HTTPException, so FastAPI passes it through its own body parsing.)"""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code
        self.message = message


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type",
                 422: "invalid_request", 503: "unavailable"}

# library error -> (status, code); the first matching class wins
_LIBRARY_ERRORS: list[tuple[type[VecdexError], int, str]] = [
    (ModelMismatchError, 409, "model_mismatch"),
    (ConfigError, 400, "bad_option"),
    (EmbedderError, 400, "bad_model"),
    (QueryError, 400, "bad_query"),
    (InputError, 400, "bad_input"),
    (EvaluationError, 400, "bad_input"),
    (StoreError, 409, "store_error"),
]


def library_error(exc: VecdexError) -> ApiError:
    message = _one_line(str(exc))
    if isinstance(exc, QueryError) and message.startswith("no document with id"):
        return ApiError(404, "document_not_found", message)
    if isinstance(exc, StoreError) and ("no longer exists" in message or message.startswith("no collection named")):
        return ApiError(404, "collection_not_found", message)
    for cls, status, code in _LIBRARY_ERRORS:
        if isinstance(exc, cls):
            return ApiError(status, code, message)
    return ApiError(400, "bad_request", message)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()[:2000]


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError, content_type: str) -> str:
    parts = []
    for error in exc.errors()[:3]:
        if error.get("type") == "json_invalid":
            return "the body is not valid JSON"
        if error.get("loc") == ("body",) and "json" not in content_type:
            return "send the body as JSON, with 'Content-Type: application/json'"
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = len(exc.errors()) - 3
    return _one_line("; ".join(parts) + (f" (and {more} more)" if more > 0 else ""))


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first
    route's, and ours are one route per method)."""
    from starlette.routing import Match

    allowed: set[str] = set()
    for route in request.app.router.routes:
        methods = getattr(route, "methods", None)
        if methods and route.matches(request.scope)[0] != Match.NONE:
            allowed |= set(methods)
    return sorted(allowed)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into the JSON error shape."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _STATUS_CODES.get(exc.status_code, "error")
        message = getattr(exc, "message", None) or _one_line(str(exc.detail))
        if exc.status_code == 404 and not getattr(exc, "code", None):
            message = f"no route {request.method} {request.url.path}"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405 and not getattr(exc, "code", None):
            message = f"{request.method} is not allowed on {request.url.path}"
            headers = {"Allow": ", ".join(_allowed_methods(request))}
        return error_response(exc.status_code, code, message, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request",
                              _validation_message(exc, request.headers.get("content-type", "")))

    @app.exception_handler(VecdexError)
    async def _library(request: Request, exc: VecdexError) -> JSONResponse:
        error = library_error(exc)
        return error_response(error.status_code, error.code, error.message)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):  # e.g. the disk is full: not the client's fault, not a bug
            log.warning("store error on %s %s: %s", request.method, request.url.path, exc.orig)
            return error_response(503, "store_unavailable", _one_line(f"database error: {exc.orig}"))
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error (a bug: the server log has the details)")
