"""moto's ThreadedMotoServer on 127.0.0.1: the local stand-in for AWS endpoints."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

from moto.server import ThreadedMotoServer

from visionpipe.local import moto_internals

log = logging.getLogger("visionpipe.local")

# Step Functions executions run in moto's ASL interpreter. Lambda keeps moto's default backend: the
# bridge runs the handlers in-process (lambda.use_docker=false would switch moto to its echo backend).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
INTERNAL_HEADER = "X-Visionpipe-Internal"
SHUTTING_DOWN = (
    b"<Error><Code>ServiceUnavailable</Code><Message>the local stack is shutting down</Message></Error>"
)


class LocalServer:
    """A context manager: entering starts the server (port 0: a free one) and returns its URL;
    leaving resets moto's state and config (both process-wide) and stops it.

    refuse_external() starts a shutdown: from then on only this process's own clients (those of the
    sessions given to marking_internal(), which tag each request) are served; anyone else gets 503.
    """

    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        self._host, self._port = host, port
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url = ""
        self._previous_config: dict = {}
        self._token, self._refusing = uuid.uuid4().hex, False
        self._gate = contextlib.ExitStack()

    def __enter__(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        os.environ["MOTO_PORT"] = str(port)  # moto's Step Functions interpreter calls Lambda there
        self._previous_config = moto_internals.config_values(MOTO_CONFIG)
        self._post("/moto-api/config", MOTO_CONFIG)
        self._gate.enter_context(moto_internals.wsgi_app_wrapped(self._server, self._gated))
        return self.endpoint_url

    def __exit__(self, *exc_info) -> None:
        self._gate.close()
        try:
            self._post("/moto-api/reset", {})
            self._post("/moto-api/config", {k: v for k, v in self._previous_config.items() if v is not None})
        except OSError as exc:
            log.debug("moto reset failed: %s", exc)
        self._server.stop()

    def refuse_external(self) -> None:
        self._refusing = True

    @contextlib.contextmanager
    def marking_internal(self, sessions: list[Any]) -> Iterator[None]:
        """Clients of these boto3 sessions tag their requests as this process's own."""

        def tag(request, **_kwargs) -> None:
            request.headers[INTERNAL_HEADER] = self._token

        emitters = list({id(s.events): s.events for s in sessions}.values())
        for emitter in emitters:
            emitter.register("request-created", tag, unique_id=f"visionpipe-internal-{self._token}")
        try:
            yield
        finally:
            for emitter in emitters:
                emitter.unregister("request-created", tag, unique_id=f"visionpipe-internal-{self._token}")

    def _gated(self, app):
        header = "HTTP_" + INTERNAL_HEADER.upper().replace("-", "_")

        def gated(environ, start_response):
            if self._refusing and environ.get(header) != self._token:
                start_response("503 Service Unavailable", [("Content-Type", "application/xml")])
                return [SHUTTING_DOWN]
            return app(environ, start_response)

        return gated

    @property
    def port(self) -> int:
        return int(self.endpoint_url.rsplit(":", 1)[1])

    def _post(self, path: str, body: dict) -> None:
        request = urllib.request.Request(  # noqa: S310 (http to our own local server)
            self.endpoint_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our own local server)
            response.read()
