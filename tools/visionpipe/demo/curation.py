"""Curation and review in the demo: the camera's training_annotation/ objects become candidates
(CurateRetrainingFunction), then the review `visionpipe review sheet` / `review decide --approve`
does: a contact sheet HTML, approvals, and the start-once threshold check that starts the round."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from visionpipe.commands.review import draw_boxes, render_sheet
from visionpipe_common.retraining.candidates import Candidate, CandidateStore
from visionpipe_common.retraining.rounds import RetrainingRounds, StartDecision

REVIEWER = "visionpipe demo"


@dataclass
class ReviewResult:
    expected: list[str]  # candidate ids the camera's annotations should have become
    candidates: list[Candidate] = field(default_factory=list)  # as the curator left them
    now: list[Candidate] = field(default_factory=list)  # as they are when the report is written
    sheet: Path | None = None
    approved: list[str] = field(default_factory=list)
    failed_approvals: dict[str, str] = field(default_factory=dict)
    threshold: int = 0
    decision: StartDecision | None = None
    executions_started: int = 0

    @property
    def pending(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status == "pending"]

    @property
    def rejected(self) -> list[Candidate]:
        return [c for c in self.candidates if c.status == "rejected"]

    def problems(self) -> list[str]:
        problems = []
        found = {c.candidate_id for c in self.candidates}
        missing = [c for c in self.expected if c not in found]
        if missing:
            problems.append(f"no candidate for {', '.join(missing)}")
        problems += [f"{c.candidate_id} rejected by the curator: {c.reason}" for c in self.rejected]
        problems += [f"approve {cid}: {message}" for cid, message in self.failed_approvals.items()]
        if self.decision is None or not self.decision.started:
            reason = self.decision.reason if self.decision else "no approvals"
            problems.append(f"no retraining round started ({len(self.approved)}/{self.threshold}: {reason})")
        elif self.executions_started != 1:
            problems.append(f"{self.executions_started} executions started instead of exactly one")
        return problems


def candidate_ids(annotation_keys: list[str]) -> list[str]:
    """training_annotation/raw_<D>_<T>.json -> raw_<D>_<T> (the curator's candidate id)."""
    return [key.rsplit("/", 1)[-1].removesuffix(".json") for key in annotation_keys]


def wait_for_candidates(store: CandidateStore, ids: list[str], timeout: float) -> list[Candidate]:
    """The curator's verdicts (pending or rejected) for every id, or what exists at the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in (store.get(cid) for cid in ids) if c is not None]
        if len(found) == len(ids) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def write_sheet(s3, candidates: list[Candidate], path: Path) -> Path:
    """`visionpipe review sheet`: every candidate's raw image with its boxes, as one HTML page."""
    images = {}
    for candidate in candidates:
        body = s3.get_object(Bucket=candidate.bucket, Key=candidate.image_key)["Body"].read()
        images[candidate.candidate_id] = draw_boxes(body, candidate)
    path.write_text(render_sheet(candidates, images))
    return path


def _store(stack, outputs: dict) -> CandidateStore:
    return CandidateStore(
        stack.session.resource("dynamodb", endpoint_url=stack.endpoint_url).Table(
            outputs["CandidatesTableName"]
        )
    )


def refresh(stack, outputs: dict, result: ReviewResult) -> ReviewResult:
    """After approval and training: each candidate's status now; the sheet is rewritten with them, so
    neither the sheet nor the report still shows approved or trained candidates as pending."""
    store = _store(stack, outputs)
    result.now = [store.get(c.candidate_id) or c for c in result.candidates]
    if result.sheet:
        write_sheet(stack.client("s3"), result.now, result.sheet)
    return result


def review(
    stack, outputs: dict, annotation_keys: list[str], sheet_path: Path, timeout: float
) -> ReviewResult:
    store = _store(stack, outputs)
    table = store.table
    result = ReviewResult(expected=candidate_ids(annotation_keys), threshold=int(outputs["RetrainThreshold"]))
    result.candidates = wait_for_candidates(store, result.expected, timeout)
    if not result.pending:
        return result
    result.sheet = write_sheet(stack.client("s3"), result.pending, sheet_path)

    # `visionpipe review decide --approve ID ...`: each approval, then the threshold check
    for candidate in result.pending:
        transition = store.approve(candidate.candidate_id, decided_by=REVIEWER)
        if transition.ok:
            result.approved.append(candidate.candidate_id)
        else:
            result.failed_approvals[candidate.candidate_id] = transition.message
    sfn = stack.client("stepfunctions")
    state_machine = outputs["RetrainStateMachineArn"]
    before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=state_machine)["executions"]}
    rounds = RetrainingRounds(table, sfn, state_machine, result.threshold)
    result.decision = rounds.maybe_start(trigger=f"visionpipe review ({REVIEWER})")
    after = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=state_machine)["executions"]}
    result.executions_started = len(after - before)
    return result
