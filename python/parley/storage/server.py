"""A small HTTP server for the local backend's signed URLs (``make run``).

It answers only ``GET``/``HEAD /storage/v1/object/sign/<bucket>/<key>?token=<jwt>``,
the shape Supabase Storage signs, after :meth:`LocalBackend.verify_signed_url`
checks the token (path, signature, expiry). It never lists, uploads or
deletes: authorization happened when the URL was signed
(:func:`parley.storage.signed_download_url`, :func:`parley.storage.attachment_download_url`).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from parley.storage.backends import LocalBackend
from parley.storage.errors import InvalidKey, SignedUrlError

log = logging.getLogger(__name__)


class SignedUrlServer:
    """Serves a :class:`LocalBackend`'s signed URLs on the host and port of its ``public_url``."""

    def __init__(self, backend: LocalBackend, *, host: str | None = None, port: int | None = None) -> None:
        parts = urlsplit(backend.public_url)
        self.backend = backend
        handler = _handler_for(backend)
        self._server = ThreadingHTTPServer(
            (host or parts.hostname or "127.0.0.1", (parts.port or 80) if port is None else port), handler
        )
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="parley-signed-urls", daemon=True)

    @property
    def url(self) -> str:
        """The base URL it listens on."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SignedUrlServer:
        """Start serving on a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _handler_for(backend: LocalBackend) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "parley-storage"

        def _answer_error(self, status: int, error: str, message: str) -> None:
            body = json.dumps({"statusCode": str(status), "error": error, "message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            try:
                data, content_type = backend.open_signed(self.path)
            except SignedUrlError as error:
                self._answer_error(400, "InvalidJWT" if error.reason == "invalid" else "ExpiredJWT", str(error))
                return
            except (FileNotFoundError, InvalidKey):
                self._answer_error(404, "not_found", "Object not found")
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "private, max-age=60")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
