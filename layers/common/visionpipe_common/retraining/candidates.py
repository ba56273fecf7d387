"""Retraining candidates: one item per camera annotation, moved through its states by conditional writes.

    pending --approve--> approved --claim (round N)--> training --finish--> trained
       |   <--reject-/              ^                      |
       v                            |                      +--release (round failed)--> pending
    rejected (reason kept)          +-- counted in the round item's `approved`

The candidates table (key `pk`) holds candidate items (pk = "candidate#<id>", id = the annotation's
file stem) and one round item (pk = "round#state": next_round, approved, running, last_result).
Every move into or out of `approved` adjusts the round item's counter in the same transaction, so
"approved since the last training" is exact however many writers run at once.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from visionpipe_common.events.handler import Metric
from visionpipe_common.limits import ensure_item_fits

PENDING, APPROVED, REJECTED, TRAINING, TRAINED = "pending", "approved", "rejected", "training", "trained"
STATUSES = (PENDING, APPROVED, REJECTED, TRAINING, TRAINED)
STATUS_INDEX = "StatusIndex"
ROUND_KEY = {"pk": "round#state"}
CANDIDATE_PREFIX = "candidate#"
_RAW_NAME = re.compile(r"^raw_(?P<device>.+)_(?P<timestamp>\d{8}-\d{6})$")


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def candidate_key(candidate_id: str) -> dict[str, str]:
    return {"pk": f"{CANDIDATE_PREFIX}{candidate_id}"}


def device_and_time(candidate_id: str) -> tuple[str, str]:
    """('office-cam-1', '20261121-083114') from 'raw_office-cam-1_20261121-083114'; ('', '') otherwise."""
    match = _RAW_NAME.match(candidate_id)
    return (match["device"], match["timestamp"]) if match else ("", "")


@dataclass(frozen=True)
class Candidate:
    candidate_id: str
    status: str
    bucket: str = ""
    annotation_key: str = ""
    image_key: str = ""
    reason: str = ""
    annotation: str = ""  # the checked annotation JSON (class ids from the class map)
    boxes: int = 0
    classes: tuple[str, ...] = ()
    width: int = 0
    height: int = 0
    device_id: str = ""
    captured_at: str = ""
    round: int | None = None
    updated_at: str = ""

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Candidate:
        return cls(
            candidate_id=item["candidate_id"],
            status=item["status"],
            bucket=item.get("bucket", ""),
            annotation_key=item.get("annotation_key", ""),
            image_key=item.get("image_key", ""),
            reason=item.get("reason", ""),
            annotation=item.get("annotation", ""),
            boxes=int(item.get("boxes", 0)),
            classes=tuple(item.get("classes", ())),
            width=int(item.get("width", 0)),
            height=int(item.get("height", 0)),
            device_id=item.get("device_id", ""),
            captured_at=item.get("captured_at", ""),
            round=int(item["round"]) if "round" in item else None,
            updated_at=item.get("updated_at", ""),
        )

    def annotation_document(self) -> dict[str, Any] | None:
        return json.loads(self.annotation) if self.annotation else None


@dataclass(frozen=True)
class Transition:
    candidate_id: str
    ok: bool
    status: str  # the status after the attempt (the current one when it did not apply)
    message: str = ""

    def as_dict(self) -> dict:
        return {"candidate_id": self.candidate_id, "status": self.status, "message": self.message}

    def metrics(self) -> list[Metric]:
        if not self.ok:
            return []
        names = {PENDING: "CandidatesPending", REJECTED: "CandidatesRejected"}
        return [Metric(names.get(self.status, "CandidatesApproved"), 1)]


class CandidateStore:
    def __init__(self, table):
        self.table = table
        self.client = table.meta.client

    # ------------------------------------------------------------------ recording
    def record(self, candidate: Candidate) -> Transition:
        """Record a new pending or rejected candidate; one already approved or used stays as it is."""
        device, captured = device_and_time(candidate.candidate_id)
        stamp = now_iso()
        item = {
            **candidate_key(candidate.candidate_id),
            "candidate_id": candidate.candidate_id,
            "status": candidate.status,
            "bucket": candidate.bucket,
            "annotation_key": candidate.annotation_key,
            "image_key": candidate.image_key,
            "reason": candidate.reason,
            "annotation": candidate.annotation,
            "boxes": candidate.boxes,
            "classes": list(candidate.classes),
            "width": candidate.width,
            "height": candidate.height,
            "device_id": candidate.device_id or device,
            "captured_at": candidate.captured_at or captured,
            "created_at": stamp,
            "updated_at": stamp,
        }
        ensure_item_fits(item, f"candidate {candidate.candidate_id}")
        try:
            self.table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(pk) OR #s IN (:pending, :rejected)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":pending": PENDING, ":rejected": REJECTED},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            current = self.get(candidate.candidate_id)
            status = current.status if current else "unknown"
            return Transition(candidate.candidate_id, False, status, f"already {status}; left unchanged")
        return Transition(candidate.candidate_id, True, candidate.status)

    # ------------------------------------------------------------------ reading
    def get(self, candidate_id: str) -> Candidate | None:
        item = self.table.get_item(Key=candidate_key(candidate_id), ConsistentRead=True).get("Item")
        return Candidate.from_item(item) if item else None

    def with_status(self, status: str, round_number: int | None = None) -> list[Candidate]:
        """Candidates in one status, oldest change first (optionally only those of one round)."""
        query: dict[str, Any] = {
            "IndexName": STATUS_INDEX,
            "KeyConditionExpression": Key("status").eq(status),
        }
        if round_number is not None:
            query["FilterExpression"] = Attr("round").eq(round_number)
        candidates = []
        while True:
            page = self.table.query(**query)
            candidates += [Candidate.from_item(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return candidates
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------------ decisions
    def approve(self, candidate_id: str, decided_by: str = "") -> Transition:
        return self._move(candidate_id, PENDING, APPROVED, +1, decided_by=decided_by)

    def reject(self, candidate_id: str, reason: str, decided_by: str = "") -> Transition:
        for source, delta in ((PENDING, 0), (APPROVED, -1)):
            result = self._move(candidate_id, source, REJECTED, delta, reason=reason, decided_by=decided_by)
            if result.ok or result.status not in (PENDING, APPROVED):
                return result
        return result

    # ------------------------------------------------------------------ rounds
    def claim_approved(self, round_number: int) -> list[Candidate]:
        """approved -> training for round N (each one once, even if two builders race)."""
        claimed = []
        for candidate in self.with_status(APPROVED):
            if self._move(candidate.candidate_id, APPROVED, TRAINING, -1, round_number=round_number).ok:
                claimed.append(self.get(candidate.candidate_id))
        return claimed

    def finish_round(self, round_number: int, succeeded: bool) -> list[str]:
        """training -> trained (success) or back to pending (failure) for the candidates of round N."""
        target = TRAINED if succeeded else PENDING
        moved = []
        for candidate in self.with_status(TRAINING, round_number):
            reason = "" if succeeded else f"returned from failed training round {round_number}"
            if self._move(candidate.candidate_id, TRAINING, target, 0, reason=reason).ok:
                moved.append(candidate.candidate_id)
        return moved

    def _move(
        self,
        candidate_id: str,
        source: str,
        target: str,
        approved_delta: int,
        reason: str | None = None,
        decided_by: str = "",
        round_number: int | None = None,
    ) -> Transition:
        names = {"#s": "status"}
        values: dict[str, Any] = {":source": source, ":target": target, ":now": now_iso()}
        sets = ["#s = :target", "updated_at = :now"]
        if reason is not None:
            sets.append("reason = :reason")
            values[":reason"] = reason
        if decided_by:
            sets += ["decided_by = :by", "decided_at = :now"]
            values[":by"] = decided_by
        if round_number is not None:
            sets.append("#r = :round")
            names["#r"] = "round"
            values[":round"] = round_number
        update = {
            "TableName": self.table.name,
            "Key": candidate_key(candidate_id),
            "UpdateExpression": "SET " + ", ".join(sets),
            "ConditionExpression": "#s = :source",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        try:
            if approved_delta:
                self._transact(
                    [
                        {"Update": update},
                        {
                            "Update": {
                                "TableName": self.table.name,
                                "Key": ROUND_KEY,
                                "UpdateExpression": "ADD approved :delta",
                                "ExpressionAttributeValues": {":delta": approved_delta},
                            }
                        },
                    ]
                )
            else:
                self.table.update_item(**update)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in (
                "ConditionalCheckFailedException",
                "TransactionCanceledException",
            ):
                raise
            current = self.get(candidate_id)
            if current is None:
                return Transition(candidate_id, False, "missing", f"no candidate {candidate_id!r}")
            return Transition(candidate_id, False, current.status, f"is {current.status}, not {source}")
        return Transition(candidate_id, True, target)

    def _transact(self, items: list[dict[str, Any]], attempts: int = 8) -> None:
        """TransactWriteItems, retried while another transaction holds the round item."""
        for attempt in range(attempts):
            try:
                self.client.transact_write_items(TransactItems=items)
                return
            except ClientError as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "TransactionConflict" not in reasons or attempt == attempts - 1:
                    raise
                time.sleep(min(0.05 * 2**attempt, 1.0) * (0.5 + random.random()))
