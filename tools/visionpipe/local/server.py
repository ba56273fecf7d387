"""moto's ThreadedMotoServer on 127.0.0.1: the local stand-in for AWS endpoints."""

from __future__ import annotations

import json
import logging
import os
import urllib.request

from moto.server import ThreadedMotoServer

from visionpipe.local import moto_internals

log = logging.getLogger("visionpipe.local")

# Step Functions executions run in moto's ASL interpreter. Lambda keeps moto's default backend: the
# bridge runs the handlers in-process (lambda.use_docker=false would switch moto to its echo backend).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


class LocalServer:
    """A context manager: entering starts the server (port 0: a free one) and returns its URL;
    leaving resets moto's state and config (both process-wide) and stops it."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        self._host, self._port = host, port
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url = ""
        self._previous_config: dict = {}

    def __enter__(self) -> str:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        os.environ["MOTO_PORT"] = str(port)  # moto's Step Functions interpreter calls Lambda there
        self._previous_config = moto_internals.config_values(MOTO_CONFIG)
        self._post("/moto-api/config", MOTO_CONFIG)
        return self.endpoint_url

    def __exit__(self, *exc_info) -> None:
        try:
            self._post("/moto-api/reset", {})
            self._post("/moto-api/config", {k: v for k, v in self._previous_config.items() if v is not None})
        except OSError as exc:
            log.debug("moto reset failed: %s", exc)
        self._server.stop()

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
