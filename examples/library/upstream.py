"""A stand-in for the services the library's jobs call, for the demo and the tests: an
Open Library style catalogue (``GET /isbn/{isbn}.json``, covers at ``GET
/b/id/{id}-M.jpg``) and an OAuth token endpoint (``POST /oauth/token``,
``grant_type=refresh_token``). It answers deterministically from the ISBN, so generated
books are found or not the same way every time.

    python -m examples.library.upstream --port 8765
    export LIBRARY_METADATA_URL=http://127.0.0.1:8765 LIBRARY_COVERS_URL=http://127.0.0.1:8765
    export LIBRARY_OAUTH_TOKEN_URL=http://127.0.0.1:8765/oauth/token

Without it, refresh_metadata asks the real Open Library, and refresh_tokens fails until
LIBRARY_OAUTH_TOKEN_URL names a provider.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

BOOK = re.compile(r"^/isbn/(\d{10,13})\.json$")
COVER = re.compile(r"^/b/id/(\d+)-M\.jpg$")
TOKEN_LIFETIME = 24 * 3600  # seconds an access token lasts (a day: four runs of refresh_tokens)
REVOKED_PREFIX = "revoked-"  # refresh tokens the provider answers invalid_grant for


def known(isbn: str) -> bool:
    """Four books in five are in the catalogue."""
    return sum(int(d) for d in isbn) % 5 != 0


def record(isbn: str) -> dict[str, Any]:
    """The catalogue's record of a book, in Open Library's shape."""
    digest = hashlib.sha256(isbn.encode()).digest()
    return {
        "title": f"Edition {isbn[-4:]}",
        "publishers": [("Penguin", "Vintage", "Faber", "Orbit")[digest[0] % 4]],
        "publish_date": str(1950 + digest[1] % 70),
        "number_of_pages": 90 + digest[2] * 2,
        "description": {"type": "/type/text", "value": f"A book with ISBN {isbn}."},
        "covers": [int.from_bytes(digest[3:6], "big")],
    }


def cover_bytes(cover_id: int) -> bytes:
    """A small JPEG-looking body (the start of a JFIF file, then filler)."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + str(cover_id).encode() * 40 + b"\xff\xd9"


class Upstream:
    """The server, in a thread of this process; ``requests`` counts calls by path kind."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.requests: dict[str, int] = {"book": 0, "cover": 0, "token": 0}
        self.failing = False  # answer 503 to everything (a test's outage)
        self.open = threading.Event()  # cleared: every answer waits until it is set again
        self.open.set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.open.wait(60)
                if outer.failing:
                    return self._send(503, b"down for maintenance", "text/plain")
                if match := BOOK.match(self.path):
                    outer.requests["book"] += 1
                    isbn = match[1]
                    if not known(isbn):
                        return self._send(404, b'{"error": "notfound"}', "application/json")
                    return self._send(200, json.dumps(record(isbn)).encode(), "application/json")
                if match := COVER.match(self.path):
                    outer.requests["cover"] += 1
                    return self._send(200, cover_bytes(int(match[1])), "image/jpeg")
                self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                outer.open.wait(60)
                if outer.failing:
                    return self._send(503, b"down for maintenance", "text/plain")
                if self.path != "/oauth/token":
                    return self._send(404, b"not found", "text/plain")
                outer.requests["token"] += 1
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                token = (form.get("refresh_token") or [""])[0]
                if form.get("grant_type") != ["refresh_token"] or not token:
                    return self._json(400, {"error": "invalid_request"})
                if token.startswith(REVOKED_PREFIX):
                    return self._json(400, {"error": "invalid_grant"})
                self._json(
                    200,
                    {
                        "access_token": secrets.token_urlsafe(24),
                        "refresh_token": secrets.token_urlsafe(24),
                        "token_type": "Bearer",
                        "expires_in": TOKEN_LIFETIME,
                    },
                )

            def _json(self, status: int, body: dict[str, Any]) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Upstream:
        self.thread.start()
        return self

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8765)
    options = parser.parse_args()
    upstream = Upstream(port=options.port)
    print(f"catalogue and token endpoint at {upstream.url}; Ctrl-C stops it")
    try:
        upstream.server.serve_forever()
    except KeyboardInterrupt:
        upstream.server.server_close()


if __name__ == "__main__":
    main()
