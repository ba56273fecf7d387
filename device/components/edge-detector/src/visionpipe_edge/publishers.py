"""Where each record is published: IoT Core through Greengrass IPC, or a log line off a core."""

from __future__ import annotations

import json
import logging
from typing import Any

LOG = logging.getLogger(__name__)


class IpcPublisher:
    """`GreengrassCoreIPCClientV2.publish_to_iot_core` (needs the recipe's mqttproxy accessControl)."""

    def __init__(self, client: Any, qos: str = "1"):  # QOS.AT_LEAST_ONCE
        self.client = client
        self.qos = qos
        self.published = 0
        self.failed = 0

    def publish(self, topic: str, message: dict) -> None:
        try:
            self.client.publish_to_iot_core(
                topic_name=topic, qos=self.qos, payload=json.dumps(message).encode()
            )
            self.published += 1
        except Exception:  # the nucleus spools while offline; anything else is logged, never fatal
            self.failed += 1
            LOG.exception("publish to %s failed", topic)


class LogPublisher:
    """Off a Greengrass core: the record goes to the log instead of IoT Core."""

    def __init__(self) -> None:
        self.published = 0
        self.failed = 0

    def publish(self, topic: str, message: dict) -> None:
        self.published += 1
        LOG.info("[not on a Greengrass core] would publish to %s: %s", topic, json.dumps(message))
