"""moto's ThreadedMotoServer on 127.0.0.1: the local stand-in for AWS endpoints."""

from __future__ import annotations

import json
import logging
import os
import urllib.request

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

log = logging.getLogger("visionpipe.local")

# Step Functions executions run in moto's ASL interpreter. Lambda keeps moto's default backend:
# the bridge runs the template's handlers in-process (moto's docker path is never reached for
# them; lambda.use_docker=false would switch to moto's echo backend instead).
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}


class LocalServer:
    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        self._requested_port = port
        self._host = host
        self._server: ThreadedMotoServer | None = None
        self.endpoint_url = ""
        self._previous_config: dict = {}

    def start(self) -> str:
        """Start the server (port 0: a free port) and configure moto; returns the endpoint URL."""
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server = ThreadedMotoServer(ip_address=self._host, port=self._requested_port, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # moto's Step Functions interpreter calls Lambda at http://localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(port)
        # The server runs in this process: remember moto's (process-wide) config to restore it.
        from moto.core.config import default_user_config

        self._previous_config = {k: default_user_config.get(k) for k in MOTO_CONFIG}
        self._post("/moto-api/config", MOTO_CONFIG)
        return self.endpoint_url

    @property
    def port(self) -> int:
        return int(self.endpoint_url.rsplit(":", 1)[1])

    def _post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(  # noqa: S310 (http to our own local server)
            self.endpoint_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our own local server)
            text = response.read().decode()
        return json.loads(text) if text else {}

    def stop(self) -> None:
        """Reset moto's state (it is process-wide) and stop serving."""
        if self._server is None:
            return
        try:
            self._post("/moto-api/reset", {})
            # moto's config is process-wide too: leave it as it was for other users of moto.
            self._post("/moto-api/config", {k: v for k, v in self._previous_config.items() if v is not None})
        except OSError as exc:
            log.debug("moto reset failed: %s", exc)
        self._server.stop()
        self._server = None
