"""hourhand: background jobs and scheduling for Python, on SQLite or PostgreSQL."""

from __future__ import annotations

from hourhand.app import Hourhand
from hourhand.errors import (
    ConfigurationError,
    DatabaseNotFound,
    DatabaseUnavailable,
    DoNotRetry,
    HourhandError,
    InvalidArguments,
    InvalidInput,
    JobNotFound,
    JobStateError,
    RetryAfter,
    UnknownJobType,
)
from hourhand.handles import JobHandle
from hourhand.hooks import AttemptResult
from hourhand.jobs import Attempt, EnqueueResult, Job, JobContext, JobState, Outcome
from hourhand.ratelimits import RateLimit
from hourhand.retry import Retry
from hourhand.store import QueueInfo
from hourhand.worker import Worker

__version__ = "0.1.0"

__all__ = [
    "Attempt",
    "AttemptResult",
    "ConfigurationError",
    "DatabaseNotFound",
    "DatabaseUnavailable",
    "DoNotRetry",
    "EnqueueResult",
    "Hourhand",
    "HourhandError",
    "InvalidArguments",
    "InvalidInput",
    "Job",
    "JobContext",
    "JobHandle",
    "JobNotFound",
    "JobState",
    "JobStateError",
    "Outcome",
    "QueueInfo",
    "RateLimit",
    "Retry",
    "RetryAfter",
    "UnknownJobType",
    "Worker",
    "__version__",
]
