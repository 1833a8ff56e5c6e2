"""The seed's edge-function endpoints, ``POST /functions/v1/<job>``, served by
``hourhand serve`` beside hourhand's API (``hh.web_app``).

Each call runs the job once and answers the seed's "Standard Response Format": it
enqueues the job (one attempt: the caller sees this execution's outcome, and decides
itself whether to call again), waits for it with ``hh.wait_async`` and answers

- 200 ``{"success": true, "job", "executedAt", "results", "executionTime", "jobId"}``;
- 500 ``{"success": false, "job", "error", "errorDetails", "executedAt", "jobId"}`` when the
  job failed; 504 the same when it is still running after the job's timeout;
- 401 (no key, or one that is malformed, unknown or revoked), 403 (a viewer's key, or an
  organisation's key naming another tenant), 404 (no such function), 400 (a body that is
  not a JSON object), 503 (the database cannot be reached), all in the error shape.

The Bearer key is an hourhand API key (``hourhand keys create --role operator``; docs/keys.md:
kept as a digest, compared in constant time, revocable, last use recorded), in place of the
seed's shared ``LOVABLE_API_KEY``. A key of an organisation runs the job for the tenant of
that id only. The body may name a tenant (``{"tenantId": "..."}``); anything else in it (the
seed's pg_cron sent ``{"executedAt": ...}``) is ignored.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from examples.gst.catalogue import JOBS
from hourhand import Hourhand, Job, JobState
from hourhand.errors import (
    DatabaseUnavailable,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
)
from hourhand.ops import Actor

PREFIX = "/functions/v1"
WAIT_MARGIN = 5.0  # seconds waited beyond the job's timeout before answering 504
CORS = {  # the seed's corsHeaders
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type",
}


def site(api: FastAPI) -> FastAPI:
    """What ``hourhand serve`` serves: the functions, then hourhand's API and dashboard
    (``/v1``, ``/health``, ``/metrics``, ``/dashboard``, its ``/openapi.json``)."""
    hh: Hourhand = api.state.hourhand
    app = FastAPI(
        title="GST background jobs",
        openapi_url=f"{PREFIX}/openapi.json",  # /openapi.json and /docs stay hourhand's
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(router(hh))
    app.mount("/", api)
    return app


def router(hh: Hourhand) -> APIRouter:
    routes = APIRouter(prefix=PREFIX)

    @routes.options("/{function}", include_in_schema=False)
    async def preflight(function: str) -> Response:
        return Response(headers=CORS)

    @routes.post("/{function}")
    async def invoke(function: str, request: Request) -> JSONResponse:
        """Run the job named ``function`` once and answer its outcome."""
        job = JOBS.get(function)
        if job is None:
            return failure(function, 404, "Function not found", f"no function {function!r}")
        try:
            actor = await asyncio.to_thread(_caller, hh, request)
            tenant_id = _tenant(actor, await request.body())
            enqueued = await asyncio.to_thread(
                hh.ops.jobs.enqueue,
                actor,
                function,
                {} if tenant_id is None else {"tenant_id": tenant_id},
                max_attempts=1,
                created_by=actor.label,
            )
        except NotAuthenticated as exc:
            return failure(function, 401, "Unauthorized", str(exc), {"WWW-Authenticate": "Bearer"})
        except Forbidden as exc:
            return failure(function, 403, "Forbidden", str(exc))
        except NotFound as exc:
            return failure(function, 404, "Not found", str(exc))
        except InvalidInput as exc:
            return failure(function, 400, "Bad request", str(exc))
        except DatabaseUnavailable as exc:
            return failure(function, 503, "Database connection failed", str(exc))
        try:
            done = await hh.wait_async(enqueued.job.id, job.timeout + WAIT_MARGIN)
        except DatabaseUnavailable as exc:
            return failure(function, 503, "Database connection failed", str(exc))
        return answer(done)

    return routes


def answer(job: Job) -> JSONResponse:
    """The seed's success or error response for a job that has run (or is still running)."""
    at = job.started_at or job.created_at
    if job.state == JobState.COMPLETED:
        took = (job.finished_at or at) - at
        body: dict[str, Any] = {
            "success": True,
            "job": job.name,
            "executedAt": stamp(at),
            "results": job.result,
            "executionTime": f"{took.total_seconds():.3g}s",
            "jobId": job.id,
        }
        return JSONResponse(body, headers=CORS)
    if job.state in (JobState.FAILED, JobState.CANCELLED):
        error, details = split_error(job.error or str(job.state))
        return failure(job.name, 500, error, details, job=job)
    return failure(
        job.name,
        504,
        "Timed out",
        f"job {job.id} is {job.state} after its timeout: see GET /v1/jobs/{job.id}",
        job=job,
    )


def failure(
    name: str,
    status: int,
    error: str,
    details: str,
    headers: dict[str, str] | None = None,
    job: Job | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "success": False,
        "job": name,
        "error": error,
        "errorDetails": details,
        "executedAt": stamp(job.started_at or job.created_at if job else datetime.now(UTC)),
    }
    if job is not None:
        body["jobId"] = job.id
    return JSONResponse(body, status_code=status, headers={**CORS, **(headers or {})})


def split_error(message: str) -> tuple[str, str]:
    """A job's last error as the seed's ``error`` and ``errorDetails``: the two lines of a
    :class:`~examples.gst.execution.JobFailed`, or the first line and the whole message
    (``TimeoutError: the attempt exceeded ...``)."""
    kind, _, text = message.partition(": ")
    if kind == "JobFailed" and "\n" in text:
        error, _, details = text.partition("\n")
        return error, details
    return message.split("\n", 1)[0], message


def stamp(moment: datetime) -> str:
    """``2025-01-15T10:30:00Z``."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _caller(hh: Hourhand, request: Request) -> Actor:
    """The API key's actor (a database read); NotAuthenticated without a valid one."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise NotAuthenticated("expected 'Authorization: Bearer <API key>'")
    address = request.client.host if request.client else None
    return hh.ops.keys.authenticate(key.strip(), address)


def _tenant(actor: Actor, body: bytes) -> str | None:
    """The tenant to run for: the body's ``tenantId``, confined to the key's organisation."""
    try:
        data = json.loads(body) if body.strip() else {}
    except ValueError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("the body must be a JSON object")
    tenant = data.get("tenantId")
    if tenant is not None and not isinstance(tenant, str):
        raise InvalidInput("tenantId must be a string")
    if actor.org_id is not None:
        if tenant is not None and tenant != actor.org_id:
            raise Forbidden(f"this key is confined to tenant {actor.org_id!r}")
        return actor.org_id
    return tenant
