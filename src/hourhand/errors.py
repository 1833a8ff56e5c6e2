"""Exceptions raised by hourhand.

::

    HourhandError                    base class; never raised itself
    ├── ConfigurationError           bad database URL, bad option, bad settings
    ├── DatabaseUnavailable          the database cannot be reached or opened, or refuses writes
    ├── DatabaseNotFound             no database there (or none with hourhand's tables), and
    │                                it may not be created (``Hourhand(url, create=False)``)
    ├── DatabaseRejected             the database refused a value it cannot store
    ├── InvalidInput                 a caller passed something hourhand cannot accept
    │   ├── UnknownJobType           no job type of that name is registered
    │   ├── InvalidArguments         job arguments are not a JSON object / do not fit
    │   ├── InvalidCron              a cron expression that cannot be parsed or never fires
    │   └── InvalidTimeZone          not an IANA time zone name
    ├── JobNotFound                  no job with that id
    └── JobStateError                the job is not in a state that allows the operation

Raised *by handlers* to steer retries (not subclasses of HourhandError):

    RetryAfter                       fail this attempt and retry after a given delay
    DoNotRetry                       fail this attempt and the job at once (dead letter)
"""

from __future__ import annotations

from datetime import timedelta


class HourhandError(Exception):
    """Something went wrong in hourhand."""


class ConfigurationError(HourhandError):
    """The configuration is not valid."""


class DatabaseUnavailable(HourhandError):
    """The database cannot be reached."""


class DatabaseNotFound(HourhandError):
    """There is no database there, or one without hourhand's tables, and it may not be
    created. (Not a DatabaseUnavailable: waiting does not make a database appear.)"""


class DatabaseRejected(HourhandError):
    """The database refused a value it cannot store."""


class InvalidInput(HourhandError, ValueError):
    """The input is not valid."""


class UnknownJobType(InvalidInput):
    """No job type of that name is registered."""


class InvalidArguments(InvalidInput):
    """The job arguments are not valid."""


class InvalidCron(InvalidInput):
    """The cron expression is not valid."""


class InvalidTimeZone(InvalidInput):
    """The time zone is not a known IANA name."""


class NotFound(HourhandError, LookupError):
    """No such thing (job, schedule, key, ...), or not one the caller may see: another
    organisation's ids are answered as not found."""


class JobNotFound(NotFound):
    """No job with that id."""


class NotAuthenticated(HourhandError):
    """No credentials, or credentials that are unknown, revoked or expired."""


class Forbidden(HourhandError):
    """The caller is known but its role does not allow this action."""


class Conflict(HourhandError):
    """The request conflicts with the current state (e.g. a name already taken)."""


class JobStateError(HourhandError):
    """The job's state does not allow this operation."""


class RetryAfter(Exception):
    """Raised by a handler: fail this attempt and retry after ``after`` seconds.

    The attempt counts against ``max_attempts``; out of attempts the job fails.
    """

    def __init__(self, after: float | timedelta, reason: str = "") -> None:
        from hourhand.checks import seconds as check_seconds  # checks imports this module

        seconds = check_seconds(
            "RetryAfter's delay", after.total_seconds() if isinstance(after, timedelta) else after
        )
        self.after = seconds
        self.reason = reason
        super().__init__(reason or f"retry requested after {seconds:g}s")


class DoNotRetry(Exception):
    """Raised by a handler: this job cannot succeed; fail it now without further retries."""


class DeliveryFailed(HourhandError):
    """A notification channel did not take a notification (try again later)."""
