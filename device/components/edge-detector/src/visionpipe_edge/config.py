"""Component settings: the recipe's DefaultConfiguration (camelCase keys) as one typed object.

On a Greengrass core the settings come over IPC (`get_configuration`) and are re-read whenever the
deployment changes them (`subscribe_to_configuration_update`); off a core they come from the
`visionpipe device run` options. Device names come from configuration: `deviceName`, else
`deviceNames[<thing name>]`, else the thing name itself (the original hard-coded a dict of things).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

LOG = logging.getLogger(__name__)

THING_NAME_VARIABLE = "{iot:thingName}"
DEFAULT_TOPIC = "visionpipe/{iot:thingName}/detections"

# camelCase configuration key -> EdgeSettings field
CONFIG_KEYS = {
    "deviceName": "device_name",
    "deviceNames": "device_names",
    "detectionThreshold": "threshold",
    "uploadIntervalSeconds": "upload_interval",
    "bucket": "bucket",
    "region": "region",
    "topic": "topic",
    "publishToIoTCore": "publish",
    "frameSource": "source",
    "loopSource": "loop_source",
    "realtime": "realtime",
    "detector": "detector",
    "modelDir": "model_dir",
    "modelFile": "model_file",
    "modelConfigFile": "model_config_file",
    "modelName": "model_name",
    "modelVersion": "model_version",
    "outputFormat": "output_format",
    "labels": "labels",
    "classIdOffset": "class_id_offset",
    "inputWidth": "input_width",
    "inputHeight": "input_height",
    "dnnScale": "dnn_scale",
    "dnnMean": "dnn_mean",
    "dnnSwapRB": "dnn_swap_rb",
    "cascadeScaleFactor": "cascade_scale_factor",
    "cascadeMinNeighbors": "cascade_min_neighbours",
    "cascadeMinSize": "cascade_min_size",
    "mjpegPort": "mjpeg_port",
    "mjpegBind": "mjpeg_bind",
    "uploadQueueSize": "upload_queue_size",
    "jpegQuality": "jpeg_quality",
}


@dataclass(frozen=True)
class EdgeSettings:
    device_name: str = ""
    device_names: Mapping[str, str] = field(default_factory=dict)
    thing_name: str = ""
    threshold: float = 0.5
    upload_interval: float = 10.0
    bucket: str = ""
    region: str = ""
    topic: str = DEFAULT_TOPIC
    publish: bool = True
    source: str = "0"
    loop_source: bool = False
    realtime: bool = False
    detector: str = "cascade"  # cascade | dnn | hog
    model_dir: str = ""
    model_file: str = "haarcascade_frontalface_default.xml"
    model_config_file: str = ""  # Caffe .prototxt / TensorFlow .pbtxt next to the weights
    model_name: str = "frontalface-haar"
    model_version: str = "1"
    output_format: str = "auto"  # auto | ssd (N x 7) | sagemaker (N x 6) | boxes_scores (visionpipe ssd)
    nms_threshold: float = 0.45  # boxes_scores: the device's non-maximum suppression
    labels: tuple[str, ...] = ("face",)
    class_id_offset: int = 0  # model class id minus offset = index into labels (1 when 0 is background)
    input_width: int = 320
    input_height: int = 240
    dnn_scale: float = 1.0
    dnn_mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    dnn_swap_rb: bool = True
    cascade_scale_factor: float = 1.2
    cascade_min_neighbours: int = 3
    cascade_min_size: int = 24
    mjpeg_port: int = 8080  # -1 disables the stream
    mjpeg_bind: str = "127.0.0.1"
    upload_queue_size: int = 8
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"detectionThreshold must be within [0, 1], got {self.threshold}")
        if self.upload_interval < 0:
            raise ValueError("uploadIntervalSeconds must be >= 0")
        if self.detector not in ("cascade", "dnn", "hog"):
            raise ValueError(f"detector must be 'cascade', 'dnn' or 'hog', got {self.detector!r}")
        if self.output_format not in ("auto", "ssd", "sagemaker", "boxes_scores"):
            raise ValueError(
                f"outputFormat must be auto, ssd, sagemaker or boxes_scores, got {self.output_format!r}"
            )
        if self.input_width <= 0 or self.input_height <= 0:
            raise ValueError("inputWidth and inputHeight must be positive")
        if self.upload_queue_size < 1:
            raise ValueError("uploadQueueSize must be >= 1")
        if not self.labels:
            raise ValueError("labels must name at least one class")

    @property
    def device_id(self) -> str:
        """The name written into keys and records."""
        return (
            self.device_name
            or self.device_names.get(self.thing_name, "")
            or self.thing_name
            or "local-device"
        )

    @property
    def resolved_topic(self) -> str:
        return self.topic.replace(THING_NAME_VARIABLE, self.thing_name or self.device_id)

    @property
    def input_size(self) -> tuple[int, int]:
        return self.input_width, self.input_height

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **defaults: Any) -> EdgeSettings:
        """Settings from a component configuration document (unknown keys, e.g. accessControl, ignored).

        `defaults` (field names) fill what the configuration leaves out or leaves empty.
        """
        values: dict[str, Any] = {k: v for k, v in defaults.items() if v is not None}
        types = {f.name: f.type for f in fields(cls)}
        for key, name in CONFIG_KEYS.items():
            value = config.get(key)
            if value is None or (isinstance(value, (str, list, dict)) and not value):
                continue  # empty: the model's metadata or the built-in default applies
            if key in ("inputWidth", "inputHeight") and float(value) <= 0:
                continue
            values[name] = _coerce(types[name], value)
        values.setdefault("thing_name", os.environ.get("AWS_IOT_THING_NAME", ""))
        return cls(**values)


class ModelError(ValueError):
    """The model folder holds no model the device can run: reported, never replaced by a fallback."""


DETECTORS = ("cascade", "dnn", "hog")


def model_defaults(model_dir: str | Path | None) -> dict[str, Any]:
    """Settings a model component describes in `model.json` next to its files.

    Keys: detector, file, config_file, classes, name, version, input {width, height},
    output_format, class_id_offset. `component.json` (written by the retrained model component's
    install) names the component version, which the records then carry as the model version.
    A folder without a readable model.json naming a known detector and an existing file raises
    ModelError: the device must not run another model while reporting this one.
    """
    if not model_dir:
        return {}
    folder = Path(model_dir)
    path = folder / "model.json"
    defaults: dict[str, Any] = {"model_dir": str(model_dir)}
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelError(f"model folder {folder} has no model.json") from None
    except (OSError, ValueError) as error:
        raise ModelError(f"{path} is unreadable: {error}") from error
    if not isinstance(meta, dict) or meta.get("detector") not in DETECTORS:
        raise ModelError(
            f"{path}: detector {meta.get('detector') if isinstance(meta, dict) else meta!r} "
            f"is not one of {', '.join(DETECTORS)}"
        )
    if not meta.get("file") or not (folder / str(meta["file"])).is_file():
        raise ModelError(f"{path}: model file {meta.get('file')!r} is not in {folder}")
    mapping = {
        "detector": "detector",
        "file": "model_file",
        "config_file": "model_config_file",
        "name": "model_name",
        "version": "model_version",
        "output_format": "output_format",
        "class_id_offset": "class_id_offset",
    }
    for key, name in mapping.items():
        if meta.get(key) not in (None, ""):
            defaults[name] = meta[key]
    if meta.get("classes"):
        defaults["labels"] = tuple(str(c) for c in meta["classes"])
    pre = meta.get("preprocessing") or {}
    if isinstance(pre, dict):
        if pre.get("scale") is not None:
            defaults["dnn_scale"] = float(pre["scale"])
        if pre.get("mean") is not None:
            defaults["dnn_mean"] = tuple(float(v) for v in pre["mean"])
        if pre.get("color") in ("RGB", "BGR"):
            defaults["dnn_swap_rb"] = pre["color"] == "RGB"  # frames are BGR
    decoding = meta.get("output_decoding") or {}
    if isinstance(decoding, dict) and decoding.get("nms_threshold") is not None:
        defaults["nms_threshold"] = float(decoding["nms_threshold"])
    size = meta.get("input") or {}
    if size.get("width") and size.get("height"):
        defaults["input_width"], defaults["input_height"] = int(size["width"]), int(size["height"])
    component = folder / "component.json"
    if component.is_file():
        try:
            defaults["model_version"] = str(json.loads(component.read_text())["version"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ModelError(f"{component} is unreadable: {error}") from error
    return defaults


def _coerce(kind: str, value: Any) -> Any:
    """Configuration values arrive as JSON (numbers may be strings when set through the console)."""
    kind = str(kind)
    if kind.startswith("bool"):
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
    if kind.startswith("int"):
        return int(float(value))
    if kind.startswith("float"):
        return float(value)
    if kind.startswith("tuple[str"):
        return tuple(str(v) for v in ([value] if isinstance(value, str) else value))
    if kind.startswith("tuple[float"):
        return tuple(float(v) for v in value)
    if kind.startswith("Mapping"):
        return {str(k): str(v) for k, v in dict(value).items()}
    return str(value)


class IpcConfigWatcher:
    """Reads this component's configuration over Greengrass IPC and keeps it current.

    `client` is an `awsiot.greengrasscoreipc.clientv2.GreengrassCoreIPCClientV2` (or anything with
    the same `get_configuration` / `subscribe_to_configuration_update` methods). `settings` always
    returns the latest valid settings; an invalid update is logged and the previous settings kept.
    """

    def __init__(self, client: Any, on_change: Callable[[EdgeSettings], None] | None = None, **defaults: Any):
        self._client = client
        self._defaults = defaults
        self._on_change = on_change
        self._lock = threading.Lock()
        self._settings = self._read()
        self._operation = None

    def _read(self) -> EdgeSettings:
        response = self._client.get_configuration(key_path=[])
        return EdgeSettings.from_config(response.value or {}, **self._defaults)

    @property
    def settings(self) -> EdgeSettings:
        with self._lock:
            return self._settings

    def subscribe(self) -> None:
        _, self._operation = self._client.subscribe_to_configuration_update(
            key_path=[], on_stream_event=self._on_update, on_stream_error=self._on_error
        )

    def _on_update(self, event: Any) -> None:
        changed = getattr(getattr(event, "configuration_update_event", None), "key_path", None)
        try:
            fresh = self._read()
        except Exception:  # keep running on the last good settings
            LOG.exception("configuration update %s rejected; keeping the previous settings", changed)
            return
        with self._lock:
            self._settings = fresh
        LOG.info("configuration updated (%s)", "/".join(changed or []) or "all")
        if self._on_change:
            self._on_change(fresh)

    @staticmethod
    def _on_error(error: Exception) -> bool:
        LOG.error("configuration update stream error: %s", error)
        return False  # keep the stream open

    def close(self) -> None:
        if self._operation is not None:
            self._operation.close()
