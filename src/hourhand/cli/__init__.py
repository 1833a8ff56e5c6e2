"""The ``hourhand`` command."""

from __future__ import annotations

from hourhand.cli.main import cli, main

__all__ = ["cli", "main"]
