"""``hh.web_app``: ``hourhand web`` and ``serve`` serve the app's own ASGI app, which mounts
hourhand's API beside routes of its own."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from hourhand import Hourhand
from hourhand.cli.web import web_server
from hourhand.ops import Actor


def test_serve_serves_the_apps_own_routes_beside_the_api(tmp_path: Path) -> None:
    hh = Hourhand(f"sqlite:///{tmp_path}/web.db")
    seen: list[FastAPI] = []

    @hh.web_app
    def site(api: FastAPI) -> FastAPI:
        seen.append(api)
        app = FastAPI()

        @app.post("/functions/v1/ping")
        def ping() -> dict[str, bool]:
            return {"pong": True}

        app.mount("/", api)
        return app

    _, key = hh.ops.keys.create(Actor.app("tests"), "tests", "viewer")
    server = web_server(hh, "127.0.0.1", 0, metrics_public=True)
    served = server.config.app
    [api] = seen
    assert served is not api and api.state.metrics_public is True  # the command's options
    with TestClient(served) as client:
        assert client.post("/functions/v1/ping").json() == {"pong": True}
        assert client.get("/health").status_code == 200
        jobs = client.get("/v1/jobs", headers={"Authorization": f"Bearer {key}"})
        assert jobs.status_code == 200, jobs.text
        assert client.get("/v1/jobs").status_code == 401  # still hourhand's auth
    hh.close()


def test_without_a_web_app_the_api_itself_is_served(tmp_path: Path) -> None:
    hh = Hourhand(f"sqlite:///{tmp_path}/web.db")
    served = web_server(hh, "127.0.0.1", 0, metrics_public=False).config.app
    assert isinstance(served, FastAPI) and served.state.hourhand is hh
    hh.close()
