"""``hourhand.http``: one HTTP request, the job's attempt failing unless the answer is
expected (any 2xx by default).

::

    hh.enqueue("hourhand.http", {
        "method": "POST",
        "url": "https://api.example.com/hooks/budget",
        "headers": {"Authorization": {"secret": "API_TOKEN"}},   # resolved when it runs
        "json": {"period": "daily"},
        "timeout": 10,
    })

The result is a summary of the answer: status, reason, elapsed seconds, a few headers, and
the body (parsed as ``json`` when it is JSON, else as text in ``body``), cut at
:data:`BODY_LIMIT` bytes with ``truncated`` set. A connection error, a timeout or an answer
that is not expected fails the attempt with the reason (the status and the first KB of the
body), and the job's retry policy applies; a 429 or 503 with ``Retry-After: SECONDS`` is
retried after that many seconds.
"""

from __future__ import annotations

import asyncio
import functools
import json as jsonlib
import ssl
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field

from hourhand.builtin.common import (
    KindFailed,
    SecretArg,
    invalid,
    json_safe,
    resolve_secret,
    secret_problem,
)
from hourhand.errors import RetryAfter
from hourhand.jobs import CheckDepth, JobContext, JobSpec

if TYPE_CHECKING:
    from hourhand.app import Hourhand

NAME = "hourhand.http"
DEFAULT_TIMEOUT = 30.0  # seconds for the whole request, answer included
MAX_TIMEOUT = 3600.0
BODY_LIMIT = 64 * 1024  # bytes of the answer's body kept in the result
ERROR_BODY = 1024  # bytes of an unexpected answer's body kept in the error
MAX_RETRY_AFTER = 3600  # seconds: a longer Retry-After is left to the retry policy
USER_AGENT = "hourhand"
KEPT_HEADERS = (  # the answer's headers the result keeps (never cookies)
    "content-type",
    "content-length",
    "location",
    "etag",
    "last-modified",
    "retry-after",
    "x-request-id",
)

Url = Annotated[  # checked further by url_problem, with a message saying what is wrong
    str,
    Field(
        min_length=1,
        max_length=8000,
        description="an http:// or https:// URL",
        json_schema_extra={"format": "uri"},
    ),
]
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", max_length=200)]
HeaderValue = Annotated[str, Field(pattern=r"^[^\r\n\x00]*$", max_length=8000)] | SecretArg
Timeout = Annotated[float, Field(gt=0, le=MAX_TIMEOUT, description="seconds")]
Status = Annotated[int, Field(ge=100, le=599)]


class RequestFailed(KindFailed):
    """The request could not be made, timed out, or its answer was not expected."""


def make_spec(app: Hourhand) -> JobSpec:
    """The ``hourhand.http`` job type of ``app`` (its secrets are read from the app's
    settings when a job runs)."""

    async def http_request(
        ctx: JobContext,
        url: Url,
        method: Method = "GET",
        headers: dict[HeaderName, HeaderValue] | None = None,
        json: Any = None,
        body: str | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        expect: list[Status] | None = None,
        follow_redirects: bool = False,
    ) -> dict[str, Any]:
        """Make an HTTP request; fail unless the answer is expected (any 2xx by default).
        The result summarises the answer."""
        return await request(
            app,
            url=url,
            method=method,
            headers=headers or {},
            json=json,
            body=body,
            timeout=timeout,
            expect=expect,
            follow_redirects=follow_redirects,
        )

    def check(args: Mapping[str, Any], depth: CheckDepth) -> None:
        if args.get("json") is not None and args.get("body") is not None:
            raise invalid(NAME, "give a JSON body (json) or a text body (body), not both")
        problem = url_problem(args["url"])
        if problem:
            raise invalid(NAME, f"argument 'url': {problem}")
        if depth == "all":  # secrets are resolved where jobs run; an enqueuer must know them
            for header, value in (args.get("headers") or {}).items():
                if isinstance(value, Mapping):
                    missing = secret_problem(app, value["secret"])
                    if missing:
                        raise invalid(NAME, f"argument 'headers'[{header!r}]: {missing}")

    return JobSpec(name=NAME, handler=http_request, check=check, admin_only=True)


def url_problem(url: str) -> str | None:
    """What is wrong with a URL the type check let through (its host, its port), or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not one)
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"{url[:100]!r} is not an http:// or https:// URL with a host"
    if any(c.isspace() for c in url):
        return "a URL has no spaces (encode them as %20)"
    return None


def where(method: str, url: str) -> str:
    """``POST https://host/path``: the request in a message, without its query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return f"{method} {parts.scheme}://{host}{parts.path}"


async def request(
    app: Hourhand,
    *,
    url: str,
    method: str,
    headers: Mapping[str, str | SecretArg],
    json: Any,
    body: str | None,
    timeout: float,
    expect: list[int] | None,
    follow_redirects: bool,
) -> dict[str, Any]:
    import httpx2  # imported when a job runs: `import hourhand` stays quick

    sent: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(value, str):
            sent[name] = value
            continue
        secret = resolve_secret(app, value["secret"])
        if any(c in secret for c in "\r\n\x00"):  # the client's error would show the value
            raise RequestFailed(
                f"secret {value['secret']!r} holds a line break or NUL, which a header "
                f"value cannot (header {name!r})"
            )
        sent[name] = secret
    lower = {name.lower() for name in sent}
    if "user-agent" not in lower:
        sent["User-Agent"] = USER_AGENT
    content: bytes | None = None
    if json is not None:
        content = jsonlib.dumps(json, separators=(",", ":")).encode()
        if "content-type" not in lower:
            sent["Content-Type"] = "application/json"
    elif body is not None:
        content = body.encode()
        if "content-type" not in lower:
            sent["Content-Type"] = "text/plain; charset=utf-8"
    what = where(method, url)
    started = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            async with (
                httpx2.AsyncClient(
                    timeout=timeout, follow_redirects=follow_redirects, verify=_tls()
                ) as client,
                client.stream(method, url, headers=sent, content=content) as response,
            ):
                data, truncated = await _read(response, BODY_LIMIT)
    except TimeoutError:
        raise RequestFailed(f"timed out after {timeout:g}s: {what}") from None
    except httpx2.TimeoutException as exc:
        raise RequestFailed(
            f"timed out ({type(exc).__name__}) after {timeout:g}s: {what}"
        ) from None
    except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
        raise RequestFailed(f"{type(exc).__name__}: {exc or 'no detail'}: {what}") from None
    elapsed = time.monotonic() - started
    status = response.status_code
    text = data.decode(response.encoding or "utf-8", errors="replace")
    if not (status in expect if expect else 200 <= status < 300):
        expected = ", ".join(map(str, expect)) if expect else "2xx"
        excerpt = data[:ERROR_BODY].decode(response.encoding or "utf-8", errors="replace")
        message = (
            f"HTTP {status} {response.reason_phrase} from {what} (expected {expected}): "
            f"{excerpt.strip() or '(empty body)'}"
        )
        wait = _retry_after(status, response.headers.get("retry-after"))
        if wait is not None:
            raise RetryAfter(wait, message)
        raise RequestFailed(message)
    result: dict[str, Any] = {
        "status": status,
        "reason": response.reason_phrase,
        "elapsed": round(elapsed, 3),
        "headers": {k: response.headers[k] for k in KEPT_HEADERS if k in response.headers},
        "size": len(data),
        "truncated": truncated,
    }
    parsed = _json(response.headers.get("content-type", ""), text, truncated)
    if parsed is not _NOT_JSON:
        result["json"] = parsed
    else:
        result["body"] = text
    safe: dict[str, Any] = json_safe(result)
    return safe


@functools.cache
def _tls() -> ssl.SSLContext:
    """The client's TLS settings, made once: loading the CA certificates for every request
    would cost milliseconds of CPU each."""
    import httpx2

    return httpx2.create_ssl_context()


async def _read(response: Any, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of the body, and whether there was more (not read)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks)[:limit], True
    return b"".join(chunks), False


_NOT_JSON = object()


def _json(content_type: str, text: str, truncated: bool) -> Any:
    kind = content_type.split(";")[0].strip().lower()
    if truncated or not (kind == "application/json" or kind.endswith("+json")):
        return _NOT_JSON
    try:
        return jsonlib.loads(text)
    except ValueError:
        return _NOT_JSON


def _retry_after(status: int, header: str | None) -> float | None:
    """Seconds a 429 or 503 asks to wait (``Retry-After: SECONDS``), if sensible."""
    if status not in (429, 503) or header is None or not header.strip().isdigit():
        return None
    seconds = int(header.strip())
    return float(seconds) if 0 <= seconds <= MAX_RETRY_AFTER else None
