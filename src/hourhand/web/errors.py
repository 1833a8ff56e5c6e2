"""Every error the API answers is ``{"error": {"code": ..., "message": ...}}``: hourhand's
own errors by their class, FastAPI's validation errors (422), unknown routes (404), wrong
methods (405), and anything else (500, logged with its traceback but never with the
request's body or headers: job arguments and keys are secret)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hourhand.errors import (
    Conflict,
    DatabaseNotFound,
    DatabaseRejected,
    DatabaseUnavailable,
    DeliveryFailed,
    Forbidden,
    HourhandError,
    InvalidInput,
    JobStateError,
    NotAuthenticated,
    NotFound,
)
from hourhand.web.models import ErrorBody

logger = logging.getLogger(__name__)

# hourhand's errors, most specific first: (class, status, code)
ERRORS: list[tuple[type[HourhandError], int, str]] = [
    (NotAuthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (JobStateError, 409, "conflict"),
    (Conflict, 409, "conflict"),
    (InvalidInput, 400, "invalid_input"),
    (DatabaseRejected, 400, "invalid_input"),
    (DatabaseUnavailable, 503, "unavailable"),
    (DatabaseNotFound, 503, "unavailable"),
    (DeliveryFailed, 502, "delivery_failed"),
]
HTTP_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    502: "delivery_failed",
    422: "invalid_input",
    503: "unavailable",
}
BEARER = {"WWW-Authenticate": "Bearer"}

# what every /v1 route may answer besides its success (for the OpenAPI document)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in [
        (400, "invalid_input"),
        (401, "unauthenticated"),
        (403, "forbidden"),
        (404, "not_found"),
        (409, "conflict"),
        (422, "invalid_input"),
        (503, "unavailable"),
    ]
}


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)


def for_error(exc: HourhandError) -> JSONResponse:
    """The answer for one of hourhand's errors (500 for one that is not the caller's)."""
    for cls, status, code in ERRORS:
        if isinstance(exc, cls):
            headers = BEARER if status == 401 else None
            if status == 503:  # the detail names the database: for the log, not the caller
                logger.warning("answering 503: %s", exc)
                return error_response(status, code, "the database is unavailable; try again")
            return error_response(status, code, str(exc) or code, headers)
    return _internal(exc)


def _internal(exc: BaseException) -> JSONResponse:
    logger.error("internal error: %s", type(exc).__name__, exc_info=exc)
    return error_response(500, "internal", "internal error (logged on the server)")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    async def on_hourhand(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HourhandError)
        return for_error(exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return error_response(422, "invalid_input", _validation_message(exc))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        headers = dict(exc.headers or {})
        if exc.status_code == 401:
            headers.update(BEARER)
        return error_response(exc.status_code, code, message, headers or None)

    app.add_exception_handler(HourhandError, on_hourhand)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_middleware(CatchAll)


class CatchAll:
    """Anything else a route raises: logged once, answered 500 in the one shape. (Starlette's
    own last resort would log it and raise it again to the server, which logs it twice.)"""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            response = _internal(exc)
            if started:  # too late for an answer of ours: let the server close it
                raise
            await response(scope, receive, send)
