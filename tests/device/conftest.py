"""Device fixtures: videos of real photographs, a moto S3 bucket, a fake Greengrass IPC client."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.device.photos import face_frames, no_face_frames, write_video
from visionpipe.components import SHIPPED_MODEL_DIR

BUCKET = "visionpipe-detections-test"


@pytest.fixture
def face_video(tmp_path) -> Path:
    """Three frames with the astronaut's face (different places, one mirrored) and two without faces."""
    return write_video(tmp_path / "photos.avi", face_frames() + no_face_frames())


@pytest.fixture
def s3_bucket():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


@pytest.fixture
def model_dir() -> Path:
    return SHIPPED_MODEL_DIR


@dataclass
class FakeIpcClient:
    """Stands in for GreengrassCoreIPCClientV2 (configuration get/subscribe, publish_to_iot_core)."""

    configuration: dict[str, Any]
    published: list[dict] = field(default_factory=list)
    handlers: list = field(default_factory=list)
    closed: bool = False

    def get_configuration(self, *, component_name=None, key_path=None):
        return SimpleNamespace(
            component_name=component_name or "com.visionpipe.EdgeDetector", value=self.configuration
        )

    def subscribe_to_configuration_update(
        self, *, component_name=None, key_path=None, on_stream_event=None, **_
    ):
        self.handlers.append(on_stream_event)
        return SimpleNamespace(), SimpleNamespace(close=lambda: setattr(self, "closed", True))

    def publish_to_iot_core(self, *, topic_name=None, qos=None, payload=None, **_):
        self.published.append({"topic": topic_name, "qos": qos, "payload": payload})
        return SimpleNamespace()

    def update(self, **changes) -> None:
        """What a deployment does: new configuration, then an update event per changed key."""
        self.configuration = {**self.configuration, **changes}
        for handler in self.handlers:
            for key in changes:
                handler(SimpleNamespace(configuration_update_event=SimpleNamespace(key_path=[key])))


@pytest.fixture
def fake_ipc():
    return FakeIpcClient
