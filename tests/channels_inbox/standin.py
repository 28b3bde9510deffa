"""A local HTTP server on loopback standing in for a platform's API (Telegram, Graph,
Twilio): each stand-in checks a request as the platform would (auth, body shape) and answers
as it would. Failures are scripted: ``standin.fail_next(429, {"Retry-After": "7"}, body)``
answers the next request that way (then the normal answers resume).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True)

    def multipart(self) -> dict[str, tuple[str, bytes]]:
        """name -> (filename or "", bytes) of a multipart/form-data body."""
        raw = f"Content-Type: {self.headers['content-type']}\r\n\r\n".encode() + self.body
        message = BytesParser(policy=HTTP).parsebytes(raw)
        parts = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            parts[name] = (part.get_filename() or "", part.get_payload(decode=True))
        return parts


@dataclass
class Answer:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | dict | list | str = b""

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), "text/plain"
        return self.body, "application/octet-stream"


class StandIn:
    """Subclasses implement ``handle(request) -> Answer``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.scripted: list[Answer] = []
        self._lock = threading.Lock()
        handler = self._handler_class()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "StandIn":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, status: int, headers: dict[str, str] | None = None, body: bytes | dict | str = b"") -> None:
        self.scripted.append(Answer(status, headers or {}, body))

    def handle(self, request: Request) -> Answer:  # pragma: no cover - overridden
        raise NotImplementedError

    def _answer(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self.scripted:
                return self.scripted.pop(0)
        return self.handle(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                answer = standin._answer(request)
                data, content_type = answer.encoded()
                self.send_response(answer.status)
                headers = {"Content-Type": content_type, **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, format: str, *args) -> None:  # quiet
                pass

        return Handler


def run(standin_class: Callable[[], StandIn]):
    standin = standin_class().start()
    try:
        yield standin
    finally:
        standin.stop()
