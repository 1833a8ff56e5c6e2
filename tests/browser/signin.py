"""Signing in to the dashboard over plain HTTP (a TestClient or an httpx client): the
sign-in form's hidden fields, then its POST. For the benchmark and the browser tests'
helpers; the browser tests sign in through the form itself."""

from __future__ import annotations

import re
from typing import Any

HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page (the CSRF token, ``next``), unescaped."""
    from html import unescape

    return {name: unescape(value) for name, value in HIDDEN.findall(html)}


def sign_in(client: Any, prefix: str, name: str, password: str, org: str = "") -> None:
    """Sign ``client`` in (its cookie jar keeps the session); AssertionError if refused."""
    form = client.get(f"{prefix}/login")
    assert form.status_code == 200, form.status_code
    fields = {**hidden_fields(form.text), "name": name, "password": password, "org": org}
    done = client.post(f"{prefix}/login", data=fields, follow_redirects=False)
    assert done.status_code == 303, f"sign-in refused: {done.status_code} {done.text[:300]}"
