"""The library's job types, registered on an app by :func:`register`."""

from __future__ import annotations

from examples.library.jobs import accounts, admin, backup, catalogue, loans, notifications, stats
from hourhand import Hourhand


def register(hh: Hourhand) -> None:
    """Define every job type of the library on ``hh`` (the schedules that run them are in
    hourhand.toml)."""
    for module in (catalogue, accounts, notifications, stats, backup, loans, admin):
        module.register(hh)
