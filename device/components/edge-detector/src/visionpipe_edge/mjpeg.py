"""Annotated frames as a local MJPEG stream over HTTP (replaces the DeepLens FIFO and mplayer).

  GET /          a page showing the stream
  GET /stream    multipart/x-mixed-replace MJPEG (open it in a browser, VLC or ffplay)
  GET /frame.jpg the latest frame
Binds 127.0.0.1 unless configured otherwise; frames are JPEG-encoded only when someone is watching.
"""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from visionpipe_edge.annotate import encode_jpeg

LOG = logging.getLogger(__name__)
BOUNDARY = "visionpipeframe"
PAGE = b"<!doctype html><title>visionpipe camera</title><img src='/stream' style='max-width:100%'>"


class FrameBuffer:
    """The latest annotated frame; encodes lazily, once per new frame."""

    def __init__(self, quality: int = 80):
        self.quality = quality
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._sequence = 0
        self._jpeg: tuple[int, bytes] | None = None

    def set_frame(self, frame: np.ndarray) -> None:
        with self._cond:
            self._frame = frame
            self._sequence += 1
            self._cond.notify_all()

    def jpeg(self, after: int = -1, timeout: float = 5.0) -> tuple[int, bytes] | None:
        """(sequence, JPEG) of a frame newer than `after`; None if none came within the timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._frame is not None and self._sequence > after, timeout):
                return None
            if self._jpeg is None or self._jpeg[0] != self._sequence:
                self._jpeg = (self._sequence, encode_jpeg(self._frame, self.quality))
            return self._jpeg


class MjpegServer:
    def __init__(self, buffer: FrameBuffer, host: str = "127.0.0.1", port: int = 8080):
        self.buffer = buffer
        server_buffer = buffer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                if self.path == "/":
                    self._send(200, "text/html", PAGE)
                elif self.path == "/frame.jpg":
                    latest = server_buffer.jpeg(timeout=5.0)
                    if latest is None:
                        self._send(503, "text/plain", b"no frame yet")
                    else:
                        self._send(200, "image/jpeg", latest[1])
                elif self.path == "/stream":
                    self._stream()
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                sequence = -1
                try:
                    while not stopping.is_set():
                        latest = server_buffer.jpeg(after=sequence, timeout=1.0)
                        if latest is None:
                            continue
                        sequence, jpeg = latest
                        header = (
                            f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
                        )
                        self.wfile.write(header.encode() + jpeg + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                LOG.debug("mjpeg %s", format % args)

        stopping = threading.Event()
        self._stopping = stopping
        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="visionpipe-mjpeg", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/stream"

    def start(self) -> MjpegServer:
        self._thread.start()
        LOG.info("MJPEG stream at %s", self.url)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
