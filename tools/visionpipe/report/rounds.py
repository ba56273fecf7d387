"""Retraining rounds: the retraining state machine's executions started in the window.

Each round is one execution (named retrain-round-NNNNN); its output (statemachines/retrain.asl.json)
holds the measured validation:mAP (`evaluation.new_map`), the current model's (`current_model`) and,
when adopted, the model package and component version. ListExecutions returns newest first, at
most 1,000 per page (https://docs.aws.amazon.com/step-functions/latest/apireference/API_ListExecutions.html),
so listing stops at the first execution older than the window.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from visionpipe.report.sources import Window

MAX_ROUNDS = 200  # a round retrains a model: a window never holds more than a handful


@dataclass
class Round:
    name: str
    round: int | None
    status: str
    started: str
    stopped: str
    outcome: str  # adopted | kept | failed | running
    validation_map: float | None
    compared_with: str
    training_job: str
    train_images: int | None
    validation_images: int | None
    new_candidates: int | None
    model_package_arn: str
    component_version: str
    error: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_rounds(sfn, state_machine_arn: str, window: Window) -> tuple[list[Round], int]:
    """(rounds oldest first, ListExecutions calls made)."""
    rounds: list[Round] = []
    calls = 0
    paginator = sfn.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=state_machine_arn, PaginationConfig={"PageSize": 100}):
        calls += 1
        older = False
        for execution in page.get("executions", []):
            started = execution["startDate"]
            if started >= window.until:
                continue
            if started < window.since:
                older = True
                break
            rounds.append(describe_round(sfn, execution))
            if len(rounds) >= MAX_ROUNDS:
                older = True
                break
        if older:
            break
    rounds.sort(key=lambda r: r.started)
    return rounds, calls


def describe_round(sfn, execution: dict) -> Round:
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    status = described["status"]
    document = _json(described.get("output"))
    request = _json(described.get("input"))
    build = (document.get("build") or {}).get("result") or {}
    evaluation = document.get("evaluation") or {}
    finish = (
        ((document.get("finish") or {}).get("result") or {})
        if isinstance(document.get("finish"), dict)
        else {}
    )
    component = (document.get("component") or {}).get("result") or {}
    if status == "RUNNING":
        outcome = "running"
    elif status != "SUCCEEDED":
        outcome = "failed"
    elif document.get("model_package") or component:
        outcome = "adopted"
    else:
        outcome = "kept"
    outcome = finish.get("outcome", outcome) if status == "SUCCEEDED" else outcome
    error = document.get("error") or {}
    new_map = evaluation.get("new_map")
    return Round(
        name=execution["name"],
        round=request.get("round"),
        status=status,
        started=execution["startDate"].isoformat(),
        stopped=execution["stopDate"].isoformat() if execution.get("stopDate") else "",
        outcome=outcome,
        validation_map=float(new_map) if isinstance(new_map, int | float) else None,
        compared_with=str((document.get("current_model") or {}).get("label", "")),
        training_job=str(build.get("training_job_name", "")),
        train_images=build.get("train_images"),
        validation_images=build.get("validation_images"),
        new_candidates=build.get("new_candidates"),
        model_package_arn=str((document.get("model_package") or {}).get("arn", "")),
        component_version=str(component.get("component_version", "")),
        error=(
            f"{error.get('Error', '')}: {error.get('Cause', '')}"[:300]
            if error
            else f"{described.get('error', '')} {described.get('cause', '')}".strip()[:300]
        ),
    )


def _json(text: str | None) -> dict:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
