"""Start the retraining state machine exactly once per round, whoever notices the threshold first.

The round item (pk "round#state" in the candidates table) holds `approved` (candidates approved and
not yet claimed by a round), `next_round` and, while a round runs, `running`. Starting is one
conditional write (next_round unchanged, nothing running, approved >= threshold): of any number of
concurrent callers exactly one wins, and only the winner calls StartExecution, with a name derived
from the round number, so even a retried winner cannot start a second execution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from visionpipe_common import aws
from visionpipe_common.retraining.candidates import ROUND_KEY, now_iso
from visionpipe_common.retraining.settings import CuratorSettings


def execution_name(round_number: int) -> str:
    return f"retrain-round-{round_number:05d}"


@dataclass(frozen=True)
class RoundState:
    next_round: int = 1
    approved: int = 0
    running: int | None = None
    last_result: dict[str, Any] | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any] | None) -> RoundState:
        item = item or {}
        return cls(
            next_round=int(item.get("next_round", 1)),
            approved=int(item.get("approved", 0)),
            running=int(item["running"]) if item.get("running") is not None else None,
            last_result=json.loads(item["last_result"]) if item.get("last_result") else None,
        )


@dataclass(frozen=True)
class StartDecision:
    started: bool
    approved: int
    threshold: int
    round: int | None = None
    execution_arn: str = ""
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "approved": self.approved,
            "threshold": self.threshold,
            "round": self.round,
            "execution_arn": self.execution_arn,
            "reason": self.reason,
        }


class RetrainingRounds:
    def __init__(self, table, stepfunctions, state_machine_arn: str, threshold: int):
        if threshold < 1:
            raise ValueError(f"the retraining threshold must be at least 1 (got {threshold})")
        self.table = table
        self.stepfunctions = stepfunctions
        self.state_machine_arn = state_machine_arn
        self.threshold = threshold

    @classmethod
    def from_settings(cls, settings: CuratorSettings) -> RetrainingRounds:
        return cls(
            aws.table(settings.candidates_table),
            aws.client("stepfunctions"),
            settings.state_machine_arn,
            settings.threshold,
        )

    def state(self) -> RoundState:
        return RoundState.from_item(self.table.get_item(Key=ROUND_KEY, ConsistentRead=True).get("Item"))

    def maybe_start(self, trigger: str) -> StartDecision:
        state = self.state()
        if state.approved < self.threshold:
            return StartDecision(False, state.approved, self.threshold, reason="below the threshold")
        if state.running is not None:
            return StartDecision(
                False,
                state.approved,
                self.threshold,
                state.running,
                reason=f"round {state.running} is still running",
            )
        round_number = state.next_round
        try:
            self.table.update_item(
                Key=ROUND_KEY,
                UpdateExpression="SET running = :n, next_round = :next, started_at = :now, #t = :trigger",
                ConditionExpression="(attribute_not_exists(next_round) OR next_round = :n) "
                "AND attribute_not_exists(running) AND approved >= :threshold",
                ExpressionAttributeNames={"#t": "trigger"},
                ExpressionAttributeValues={
                    ":n": round_number,
                    ":next": round_number + 1,
                    ":now": now_iso(),
                    ":trigger": trigger,
                    ":threshold": self.threshold,
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return StartDecision(
                False, state.approved, self.threshold, reason="another caller started the round"
            )
        try:
            arn = self.stepfunctions.start_execution(
                stateMachineArn=self.state_machine_arn,
                name=execution_name(round_number),
                input=json.dumps({"round": round_number, "trigger": trigger, "approved": state.approved}),
            )["executionArn"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ExecutionAlreadyExists":
                self._undo_start(round_number)
                raise
            arn = (
                self.state_machine_arn.replace(":stateMachine:", ":execution:")
                + f":{execution_name(round_number)}"
            )
        return StartDecision(
            True, state.approved, self.threshold, round_number, arn, reason=f"started by {trigger}"
        )

    def _undo_start(self, round_number: int) -> None:
        """StartExecution failed: give the round back so the next event can try again."""
        try:
            self.table.update_item(
                Key=ROUND_KEY,
                UpdateExpression="REMOVE running SET next_round = :n",
                ConditionExpression="running = :n",
                ExpressionAttributeValues={":n": round_number},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def finish(self, round_number: int, result: dict[str, Any]) -> bool:
        """The round's execution ended (any outcome): nothing runs any more; keep its figures."""
        try:
            self.table.update_item(
                Key=ROUND_KEY,
                UpdateExpression="REMOVE running SET last_result = :result, finished_at = :now",
                ConditionExpression="running = :n",
                ExpressionAttributeValues={
                    ":n": round_number,
                    ":result": json.dumps(result),
                    ":now": now_iso(),
                },
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True
