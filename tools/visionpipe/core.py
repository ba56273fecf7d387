"""What a Greengrass nucleus does with a deployment, for a camera run off a core (`visionpipe device
run --follow-deployment`, the demo, tests): read the target's latest deployment, fetch the model
component's recipe, download its artifact, run its Install script with the recipe variables, and
give the device the settings its model.json describes.

On a real core the nucleus does this and restarts the component; here the running loop's
settings provider returns the new settings and the loop reloads its detector.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

from visionpipe_edge.config import EdgeSettings, model_defaults

LOG = logging.getLogger("visionpipe.core")
MODEL_COMPONENT = "com.visionpipe.DetectorModel"


class LocalCore:
    def __init__(self, greengrass, s3, target_arn: str, root: Path, component: str = MODEL_COMPONENT):
        self.greengrass, self.s3, self.target_arn = greengrass, s3, target_arn
        self.root, self.component = Path(root), component
        self.deployment_id = ""
        self.version = ""
        self.installs: list[str] = []  # component versions installed, in order

    def deployed_version(self) -> tuple[str, str]:
        """(deployment id, model component version) of the target's latest deployment, or ("", "")."""
        latest = self.greengrass.list_deployments(targetArn=self.target_arn, historyFilter="LATEST_ONLY")
        if not latest["deployments"]:
            return "", ""
        deployment_id = latest["deployments"][0]["deploymentId"]
        components = self.greengrass.get_deployment(deploymentId=deployment_id)["components"]
        return deployment_id, (components.get(self.component) or {}).get("componentVersion", "")

    def install(self, version: str) -> Path:
        """The component version's artifacts into artifacts/, its Install script run; the model folder."""
        published = self.greengrass.list_component_versions(arn=self.component_arn())["componentVersions"]
        if version not in [v["componentVersion"] for v in published]:  # the nucleus resolves it first
            raise LookupError(f"{self.component} {version} is not published")
        recipe = json.loads(
            self.greengrass.get_component(
                arn=f"{self.component_arn()}:versions:{version}", recipeOutputFormat="JSON"
            )["recipe"]
        )
        manifest = recipe["Manifests"][0]
        artifacts = self.root / "packages" / "artifacts" / self.component / version
        work = self.root / "work" / self.component
        artifacts.mkdir(parents=True, exist_ok=True)
        work.mkdir(parents=True, exist_ok=True)
        for artifact in manifest.get("Artifacts", []):
            uri = artifact.get("Uri") or artifact["URI"]
            bucket, key = uri[5:].split("/", 1)
            self.s3.download_file(bucket, key, str(artifacts / key.rsplit("/", 1)[-1]))
        script = manifest["Lifecycle"]["Install"]["Script"]
        script = script.replace("{artifacts:path}", str(artifacts)).replace("{work:path}", str(work))
        subprocess.run(["sh", "-c", script], check=True)  # noqa: S603, S607 (the recipe's own script)
        self.installs.append(version)
        return work / "model"

    def component_arn(self) -> str:
        arn = self.target_arn.split(":")
        return f"arn:aws:greengrass:{arn[3]}:{arn[4]}:components:{self.component}"

    def settings(self, base: EdgeSettings) -> EdgeSettings:
        """`base` with the deployed model's settings when the target's deployment changed, else as it was."""
        deployment_id, version = self.deployed_version()
        if not version or deployment_id == self.deployment_id:
            return base if not self.version else self._current
        model_dir = self.install(version)
        described = model_defaults(model_dir)  # ModelError on an unusable model: never a silent fallback
        self._current = replace(base, **described)
        self.deployment_id, self.version = deployment_id, version
        LOG.info("deployment %s: %s %s (%s)", deployment_id, self.component, version, self._current.detector)
        return self._current

    def provider(self, base: EdgeSettings, every: float = 1.0, clock: Any = None):
        """A settings provider for DetectionLoop that checks the deployment at most every `every` s."""
        import time

        clock = clock or time.monotonic
        state = {"at": -every, "settings": base}

        def current() -> EdgeSettings:
            now = clock()
            if now - state["at"] >= every:
                state["at"] = now
                state["settings"] = self.settings(base)
            return state["settings"]

        return current
