"""Handler environments from template.yaml, resolved the way local mode resolves them.

    env = template_environment("DetectAnomalyFunction", {"ResultsTable": "results"}, MaxImageBytes="5")

Every resource the function's environment refers to must be named (its physical id, or a dict
with "Ref" and the attributes used); a missing one raises. The stack is "visionpipe" with the id
suffix "example", so the template's stack-id bucket names are the ones events/*.json use
(visionpipe-images-example, visionpipe-videos-example, visionpipe-detections-example).
"""

from __future__ import annotations

from visionpipe.local.deployment import PseudoParameters
from visionpipe.local.functions import function_environment

PSEUDO = PseudoParameters(stack_name="visionpipe", stack_uuid="example")


def template_environment(logical_id: str, resources: dict, **parameters: str) -> dict[str, str]:
    return function_environment(logical_id, resources, parameters, PSEUDO)
