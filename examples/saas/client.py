"""A typed client of one organisation's jobs, over hourhand's REST API with the
organisation's API key (``hourhand keys create --name acme-app --role operator --org
org_acme``): what the seed's web app got from its generated SDK.

    with JobsClient("http://127.0.0.1:8000", key, "org_acme") as jobs:
        job = jobs.enqueue("reports:generate", {"period": "week"}, created_by="u_1")
        job = jobs.get_job(job.id)          # .state .status .progress .result
        page = jobs.list_jobs(state="completed")
        jobs.cancel_job(job.id)
        jobs.create_schedule("weekly-report-u_1", "reports:generate", cron_for("weekly"),
                             input={"period": "week"}, created_by="u_1")

Routes: ``/v1/orgs/{org}/jobs`` (list, enqueue), ``/v1/orgs/{org}/jobs/{id}`` (get) and its
``/cancel``; ``/v1/schedules`` (the key's organisation's). An error answer raises
:class:`ApiError` with hourhand's ``{"error": {"code", "message"}}``; another
organisation's job is a 404, exactly as one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import httpx2

JobState = Literal["scheduled", "queued", "running", "retrying", "completed", "failed", "cancelled"]
# the seed's four statuses (its `jobs.status`), for code written against them
SeedStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]
SEED_STATUS: dict[str, SeedStatus] = {
    "scheduled": "pending",
    "queued": "pending",
    "retrying": "pending",  # waiting for its next attempt
    "running": "processing",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
DEFAULT_TIMEOUT = 30.0  # seconds per request (a ?wait= request: the wait on top)


class ApiError(Exception):
    """An error answer: its HTTP status and hourhand's error code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _time(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class Attempt:
    attempt: int
    outcome: str | None  # completed, failed, timeout, lost, cancelled; None while running
    started_at: datetime | None
    duration: float | None  # seconds
    error: str | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Attempt:
        return cls(
            attempt=int(data["attempt"]),
            outcome=data.get("outcome"),
            started_at=_time(data.get("started_at")),
            duration=data.get("duration"),
            error=data.get("error"),
        )


@dataclass(frozen=True)
class Job:
    """A job as the API shows it (docs/api.md), with the fields the seed's JobResponse had."""

    id: int
    type: str
    state: JobState
    args: dict[str, Any]  # the seed's `input`
    org_id: str | None
    created_by: str | None
    schedule_id: int | None  # the user schedule that made it
    progress: float | None  # 0-100
    progress_message: str | None
    result: Any  # the seed's `output`
    error: str | None
    attempt: int
    max_attempts: int
    created_at: datetime
    finished_at: datetime | None
    attempts: tuple[Attempt, ...] = ()  # on get_job only

    @property
    def status(self) -> SeedStatus:
        """The state in the seed's words: pending, processing, completed, failed."""
        return SEED_STATUS[self.state]

    @property
    def finished(self) -> bool:
        return self.state in ("completed", "failed", "cancelled")

    @classmethod
    def of(cls, data: dict[str, Any]) -> Job:
        return cls(
            id=int(data["id"]),
            type=data["type"],
            state=data["state"],
            args=dict(data["args"]),
            org_id=data["org_id"],
            created_by=data["created_by"],
            schedule_id=data["schedule_id"],
            progress=data["progress"],
            progress_message=data["progress_message"],
            result=data["result"],
            error=data["error"],
            attempt=int(data["attempt"]),
            max_attempts=int(data["max_attempts"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            finished_at=_time(data["finished_at"]),
            attempts=tuple(Attempt.of(a) for a in data.get("attempts", ())),
        )


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]  # newest first
    next_cursor: str | None  # pass back as `cursor` for the next page; None: the last


@dataclass(frozen=True)
class Schedule:
    id: int
    name: str
    job: str
    cron: str
    tz: str
    description: str  # the cron expression in words
    args: dict[str, Any]
    org_id: str | None
    created_by: str | None
    enabled: bool
    misfire: str
    next_fire_at: datetime | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> Schedule:
        return cls(
            id=int(data["id"]),
            name=data["name"],
            job=data["job"],
            cron=data["cron"],
            tz=data["tz"],
            description=data["description"],
            args=dict(data["args"]),
            org_id=data["org_id"],
            created_by=data["created_by"],
            enabled=bool(data["enabled"]),
            misfire=data["misfire"],
            next_fire_at=_time(data["next_fire_at"]),
        )


class JobsClient:
    """One organisation's jobs and schedules, with that organisation's API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        org_id: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self.org_id = org_id
        self.timeout = timeout
        self.http = httpx2.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {api_key}"},  # never in the URL
            timeout=timeout,
            transport=transport,
        )
        self.jobs_path = f"/v1/orgs/{quote(org_id, safe='')}/jobs"

    # -- jobs -------------------------------------------------------------------------------
    def list_jobs(
        self,
        *,
        state: JobState | None = None,
        type: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> JobPage:
        """The organisation's jobs, newest first, a page at a time."""
        params = {"state": state, "type": type, "limit": limit, "cursor": cursor}
        data = self._call("GET", self.jobs_path, params=_present(params))
        return JobPage([Job.of(j) for j in data["jobs"]], data["next_cursor"])

    def enqueue(
        self,
        type: str,
        input: dict[str, Any] | None = None,
        *,
        created_by: str | None = None,
        delay: float | None = None,
        unique_key: str | None = None,
        wait: float | None = None,
    ) -> Job:
        """Create and enqueue a user job of the organisation (the seed's
        ``createAndEnqueueJob``). ``wait``: seconds to wait for it to finish (the answer is
        the job then, with its result)."""
        body = {
            "type": type,
            "args": input or {},
            "created_by": created_by,
            "delay": delay,
            "unique_key": unique_key,
        }
        if wait is None:
            return Job.of(self._call("POST", self.jobs_path, json=_present(body)))
        data = self._call(
            "POST",
            self.jobs_path,
            json=_present(body),
            params={"wait": wait},
            timeout=self.timeout + wait,
        )
        return Job.of(data)

    def get_job(self, job_id: int) -> Job:
        """The job with its attempts."""
        return Job.of(self._call("GET", f"{self.jobs_path}/{int(job_id)}"))

    def cancel_job(self, job_id: int) -> Job:
        """Cancel a waiting job; a running one is asked to stop."""
        return Job.of(self._call("POST", f"{self.jobs_path}/{int(job_id)}/cancel"))

    # -- schedules ----------------------------------------------------------------------------
    def create_schedule(
        self,
        name: str,
        job_type: str,
        cron: str,
        *,
        tz: str = "UTC",
        input: dict[str, Any] | None = None,
        created_by: str | None = None,
        misfire: Literal["skip", "once", "all"] = "once",
    ) -> Schedule:
        """A user schedule of the organisation: its runs are the organisation's jobs, made
        for ``created_by`` (``schedules.cron_for("daily" | "weekly" | "monthly", ...)``
        writes the cron expression). ``misfire="once"``: a run missed while no scheduler
        ran happens once when one is back, as the seed's polling Scheduler did."""
        body = {
            "name": name,
            "job": job_type,
            "cron": cron,
            "tz": tz,
            "args": input or {},
            "created_by": created_by,
            "misfire": misfire,
        }
        return Schedule.of(self._call("POST", "/v1/schedules", json=_present(body)))

    def list_schedules(self) -> list[Schedule]:
        """The organisation's schedules (users' schedules: source 'user')."""
        data = self._call("GET", "/v1/schedules", params={"source": "user"})
        return [Schedule.of(s) for s in data]

    # -- plumbing -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, **kw: Any) -> Any:
        response = self.http.request(method, path, **kw)
        if response.is_success:
            return response.json()
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            code, message = "http_error", response.reason_phrase
        raise ApiError(response.status_code, code, message)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> JobsClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _present(values: dict[str, Any]) -> dict[str, Any]:
    """The values that are set (the API takes a missing field as its default)."""
    return {key: value for key, value in values.items() if value is not None}
