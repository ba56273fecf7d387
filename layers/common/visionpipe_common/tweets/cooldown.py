"""Per-device tweet cooldown: one DynamoDB item per device, taken with a conditional write.

A record may tweet only after it *claims* its device: a PutItem that succeeds only when nobody holds
the device (no item, or the last claim's cooldown has run out), or when the holder is this very
record still unposted (a retry after a crash), and never when this very record is the one that last
posted for the device (a late duplicate, even after the window). DynamoDB evaluates the condition
atomically, so when a burst of records for one device arrives at once exactly one claim wins and one
tweet is posted; the others are suppressed. After posting, the claim is marked POSTED; if posting
fails, the claim is released (deleted only if this record still holds it), so the retry can post.

Item: {DeviceId, ClaimedBy (record identity), RecordKey, State CLAIMED|POSTED, ClaimedAt,
CooldownUntil (epoch s), TweetId?, ExpiresAt (TTL, epoch s)}. TTL only tidies the table; the
condition compares CooldownUntil, because TTL deletion can lag by hours.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from botocore.exceptions import ClientError

STATE_CLAIMED = "CLAIMED"
STATE_POSTED = "POSTED"
TTL_GRACE_SECONDS = 24 * 3600


class ClaimResult(Enum):
    CLAIMED = "claimed"  # this record may tweet
    COOLING_DOWN = "cooling_down"  # another record of this device tweeted (or is tweeting) recently
    ALREADY_POSTED = "already_posted"  # this very record has already been tweeted


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    device_id: str
    holder: str = ""  # identity of the record holding the device
    cooldown_until: float = 0.0

    @property
    def won(self) -> bool:
        return self.result is ClaimResult.CLAIMED


class DeviceCooldown:
    def __init__(
        self,
        dynamodb_client,
        table_name: str,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.time,
    ):
        self._ddb = dynamodb_client
        self._table = table_name
        self._cooldown = max(0.0, float(cooldown_seconds))
        self._clock = clock

    def claim(self, device_id: str, identity: str, record_key: str = "") -> Claim:
        now = self._clock()
        until = now + self._cooldown
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={
                    "DeviceId": {"S": device_id},
                    "ClaimedBy": {"S": identity},
                    "RecordKey": {"S": record_key or "-"},
                    "State": {"S": STATE_CLAIMED},
                    "ClaimedAt": {"N": _number(now)},
                    "CooldownUntil": {"N": _number(until)},
                    "ExpiresAt": {"N": str(int(until) + TTL_GRACE_SECONDS)},
                },
                ConditionExpression=(
                    "(attribute_not_exists(DeviceId) OR CooldownUntil <= :now "
                    "OR (ClaimedBy = :me AND #state = :claimed)) "
                    "AND NOT (ClaimedBy = :me AND #state = :posted)"
                ),
                ExpressionAttributeNames={"#state": "State"},
                ExpressionAttributeValues={
                    ":now": {"N": _number(now)},
                    ":me": {"S": identity},
                    ":claimed": {"S": STATE_CLAIMED},
                    ":posted": {"S": STATE_POSTED},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            held = exc.response.get("Item") or self._current(device_id)
            holder = held.get("ClaimedBy", {}).get("S", "")
            held_until = float(held.get("CooldownUntil", {}).get("N", "0"))
            if holder == identity and held.get("State", {}).get("S") == STATE_POSTED:
                return Claim(ClaimResult.ALREADY_POSTED, device_id, holder, held_until)
            return Claim(ClaimResult.COOLING_DOWN, device_id, holder, held_until)
        return Claim(ClaimResult.CLAIMED, device_id, identity, until)

    def mark_posted(self, device_id: str, identity: str, tweet_id: str = "") -> bool:
        """Record that the claim's tweet went out; False if the claim was lost meanwhile."""
        values = {":me": {"S": identity}, ":posted": {"S": STATE_POSTED}}
        update = "SET #state = :posted"
        if tweet_id:
            update += ", TweetId = :tweet"
            values[":tweet"] = {"S": tweet_id}
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"DeviceId": {"S": device_id}},
                UpdateExpression=update,
                ConditionExpression="ClaimedBy = :me",
                ExpressionAttributeNames={"#state": "State"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, device_id: str, identity: str) -> bool:
        """Give the device back after a failed post, only if this record still holds it unposted."""
        try:
            self._ddb.delete_item(
                TableName=self._table,
                Key={"DeviceId": {"S": device_id}},
                ConditionExpression="ClaimedBy = :me AND #state = :claimed",
                ExpressionAttributeNames={"#state": "State"},
                ExpressionAttributeValues={":me": {"S": identity}, ":claimed": {"S": STATE_CLAIMED}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _current(self, device_id: str) -> dict:
        return self._ddb.get_item(
            TableName=self._table, Key={"DeviceId": {"S": device_id}}, ConsistentRead=True
        ).get("Item", {})


def _number(value: float) -> str:
    return f"{value:.3f}"
