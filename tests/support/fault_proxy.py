"""A fault-injecting HTTP proxy on 127.0.0.1 in front of moto's server.

Each request is, at the given rates, refused before it reaches the service (503, nothing written)
or forwarded and its reply replaced by a 503 after the service committed it (the write happened,
the caller cannot know). Everything else passes through unchanged. The counters say what happened.
"""

from __future__ import annotations

import http.client
import random
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# The error each protocol would send: JSON for X-Amz-Target APIs (DynamoDB, SSM), XML for S3.
UNAVAILABLE_JSON = b'{"__type":"ServiceUnavailable","message":"injected fault"}'
UNAVAILABLE_XML = b"<Error><Code>ServiceUnavailable</Code><Message>injected fault</Message></Error>"


class FaultProxy:
    def __init__(self, target_url: str, refuse_rate: float, lose_reply_rate: float, seed: int = 0):
        target = urlsplit(target_url)
        self.target = (target.hostname, target.port)
        self.refuse_rate, self.lose_reply_rate = refuse_rate, lose_reply_rate
        self.counts: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _fate(self) -> str:
        with self._lock:
            draw = self._random.random()
        if draw < self.refuse_rate:
            return "refused"
        if draw < self.refuse_rate + self.lose_reply_rate:
            return "reply_lost"
        return "passed"

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _unavailable(self) -> None:
                json_api = "X-Amz-Target" in self.headers
                body = UNAVAILABLE_JSON if json_api else UNAVAILABLE_XML
                self.send_response(503)
                self.send_header(
                    "Content-Type", "application/x-amz-json-1.0" if json_api else "application/xml"
                )
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fate = proxy._fate()
                with proxy._lock:
                    proxy.counts[fate] += 1
                if fate == "refused":
                    return self._unavailable()
                connection = http.client.HTTPConnection(*proxy.target, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = f"{proxy.target[0]}:{proxy.target[1]}"
                connection.request(self.command, self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                connection.close()
                if fate == "reply_lost":
                    return self._unavailable()
                self.send_response(response.status)
                for name, value in response.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        return Handler
