"""The README's first command, ``bash scripts/demo.sh``, as a newcomer runs it: it sets up,
serves an example (examples/saas) with its dashboard on SQLite, prints the address and a
sign-in that works, and keeps making work."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
from pathlib import Path

import httpx2
import pytest

from tests.conftest import REPO, subprocess_env, wait_until
from tests.support.servers import free_port
from tests.web.dash import csrf

pytestmark = pytest.mark.slow

SIGN_IN = re.compile(r"(http://\S+/dashboard)\s+\(sign in as (\S+), password (\S+)\)")


def test_the_demo_command_serves_a_dashboard_its_printed_sign_in_opens(tmp_path: Path) -> None:
    port = free_port()
    database = f"sqlite:///{tmp_path}/demo.db"
    demo = subprocess.Popen(
        ["bash", "scripts/demo.sh", "--port", str(port), "--database", database],
        cwd=REPO,
        env=subprocess_env(COLUMNS="200", SAAS_STORAGE_DIR=str(tmp_path / "storage")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(demo.stdout or []), daemon=True)
    reader.start()
    try:
        found = wait_until(
            lambda: SIGN_IN.search("".join(lines)), timeout=120, what="the printed sign-in"
        )
        address, name, password = found.groups()
        assert address == f"http://127.0.0.1:{port}/dashboard"
        with httpx2.Client(base_url=address, timeout=10) as client:
            wait_until(lambda: _answers(client), timeout=30, what="the dashboard to answer")
            token = csrf(client.get("/login"))
            signed_in = client.post(
                "/login", data={"name": name, "password": password, "org": "", "csrf": token}
            )
            assert signed_in.status_code == 303
            overview = client.get("/")
            assert overview.status_code == 200 and "Overview" in overview.text
            # it keeps making work: jobs complete while we watch
            wait_until(
                lambda: (
                    "completed" in client.get("/jobs?state=completed").text
                    and "/jobs/" in client.get("/jobs?state=completed").text
                ),
                timeout=60,
                interval=0.5,
                what="completed demo jobs",
            )
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(30)
        except subprocess.TimeoutExpired:
            demo.kill()
            demo.wait()
        reader.join(5)
        if demo.stdout is not None:
            demo.stdout.close()
    assert "Traceback" not in "".join(lines)


def _answers(client: httpx2.Client) -> bool:
    try:
        return client.get("/login").status_code == 200
    except httpx2.TransportError:
        return False
