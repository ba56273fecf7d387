"""The Greengrass components in this checkout: device/components/<name>/, each its own GDK project.

The components are siblings and never reach into each other (on a core each is unpacked into its
own artifacts folder); the dev tooling, tests and benchmarks find them here, in one place.
"""

from __future__ import annotations

import os

from visionpipe.template import REPO_ROOT

COMPONENTS_DIR = REPO_ROOT / "device" / "components"
# com.visionpipe.EdgeDetector: the detection loop (src/visionpipe_edge) and its requirements.
EDGE_DETECTOR_DIR = COMPONENTS_DIR / "edge-detector"
# com.visionpipe.DetectorModel: the model files and the model.json describing them.
DETECTOR_MODEL_DIR = COMPONENTS_DIR / "detector-model"
# What the shipped model component installs into {work:path}/model on a core.
SHIPPED_MODEL_DIR = DETECTOR_MODEL_DIR / "model"


def model_dir() -> str:
    """The model folder the dev tooling runs the loop with: $VISIONPIPE_MODEL_DIR, else the shipped one."""
    return os.environ.get("VISIONPIPE_MODEL_DIR") or str(SHIPPED_MODEL_DIR)
