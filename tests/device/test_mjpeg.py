"""The local MJPEG stream of annotated frames (port 0: any free port)."""

import http.client

import cv2
import numpy as np
import pytest
from visionpipe_edge.mjpeg import BOUNDARY, FrameBuffer, MjpegServer

from tests.device.photos import photograph


@pytest.fixture
def server():
    buffer = FrameBuffer()
    server = MjpegServer(buffer, "127.0.0.1", 0).start()
    yield server
    server.stop()


def get(server, path):
    connection = http.client.HTTPConnection(server.host, server.port, timeout=5)
    connection.request("GET", path)
    return connection, connection.getresponse()


def test_binds_loopback_by_default(server):
    assert server.host == "127.0.0.1" and server.port > 0


def test_serves_the_latest_frame_as_a_valid_jpeg(server):
    frame = photograph("astronaut")
    server.buffer.set_frame(frame)
    connection, response = get(server, "/frame.jpg")
    body = response.read()
    connection.close()
    assert response.status == 200 and response.getheader("Content-Type") == "image/jpeg"
    assert body[:2] == b"\xff\xd8" and body[-2:] == b"\xff\xd9"
    decoded = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == frame.shape
    assert np.abs(decoded.astype(int) - frame).mean() < 6


def test_stream_is_multipart_jpeg(server):
    server.buffer.set_frame(photograph("coffee"))
    connection, response = get(server, "/stream")
    assert response.getheader("Content-Type") == f"multipart/x-mixed-replace; boundary={BOUNDARY}"
    assert response.fp.readline().strip() == f"--{BOUNDARY}".encode()
    headers = {}
    while (line := response.fp.readline().strip()) != b"":
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    assert headers["content-type"] == "image/jpeg"
    jpeg = response.fp.read(int(headers["content-length"]))
    connection.close()
    assert cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).shape == (400, 600, 3)


def test_no_frame_yet_is_503_and_unknown_paths_404(server, monkeypatch):
    monkeypatch.setattr(FrameBuffer, "jpeg", lambda self, after=-1, timeout=5.0: None)
    connection, response = get(server, "/frame.jpg")
    assert response.status == 503
    connection.close()
    connection, response = get(server, "/nope")
    assert response.status == 404
    connection.close()


def test_encodes_once_per_new_frame():
    buffer = FrameBuffer()
    buffer.set_frame(np.zeros((10, 10, 3), np.uint8))
    first = buffer.jpeg()
    assert buffer.jpeg() is first
    buffer.set_frame(np.ones((10, 10, 3), np.uint8))
    assert buffer.jpeg(after=first[0])[0] == first[0] + 1
