"""DeviceCooldown against moto's DynamoDB (table from template.yaml): one winner per device and window."""

import threading

import boto3
import pytest
from moto import mock_aws
from support.tweets import make_moto_dynamodb_writes_atomic

from visionpipe.template import table_definition
from visionpipe_common.tweets.cooldown import ClaimResult, DeviceCooldown


class Clock:
    def __init__(self, now=1_800_000_000.0):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def ddb():
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(TableName="cooldown", **table_definition("TweetCooldownTable"))
        yield client


def item(ddb, device):
    return ddb.get_item(TableName="cooldown", Key={"DeviceId": {"S": device}}).get("Item")


def test_first_claim_wins_and_the_next_record_within_the_cooldown_is_suppressed(ddb):
    clock = Clock()
    cooldown = DeviceCooldown(ddb, "cooldown", 60, clock)

    first = cooldown.claim("cam-1", "record-a", "json/record_cam-1_a.json")
    clock.now += 59
    second = cooldown.claim("cam-1", "record-b")

    assert first.won and first.cooldown_until == 1_800_000_060.0
    assert second.result is ClaimResult.COOLING_DOWN and second.holder == "record-a"
    stored = item(ddb, "cam-1")
    assert stored["ClaimedBy"]["S"] == "record-a" and stored["RecordKey"]["S"] == "json/record_cam-1_a.json"
    assert int(stored["ExpiresAt"]["N"]) > 1_800_000_060  # TTL only tidies up


def test_after_the_cooldown_the_device_can_tweet_again(ddb):
    clock = Clock()
    cooldown = DeviceCooldown(ddb, "cooldown", 60, clock)
    assert cooldown.claim("cam-1", "record-a").won
    cooldown.mark_posted("cam-1", "record-a", "111")
    clock.now += 60
    assert cooldown.claim("cam-1", "record-b").won
    assert item(ddb, "cam-1")["ClaimedBy"]["S"] == "record-b"


def test_devices_cool_down_independently(ddb):
    cooldown = DeviceCooldown(ddb, "cooldown", 60, Clock())
    assert cooldown.claim("cam-1", "a").won and cooldown.claim("cam-2", "b").won


def test_a_posted_record_coming_back_is_recognised_as_already_posted(ddb):
    cooldown = DeviceCooldown(ddb, "cooldown", 60, Clock())
    cooldown.claim("cam-1", "record-a")
    assert cooldown.mark_posted("cam-1", "record-a", "1861")
    again = cooldown.claim("cam-1", "record-a")
    assert again.result is ClaimResult.ALREADY_POSTED
    assert item(ddb, "cam-1")["TweetId"]["S"] == "1861"


def test_the_last_posted_record_stays_a_duplicate_after_the_window(ddb):
    clock = Clock()
    cooldown = DeviceCooldown(ddb, "cooldown", 60, clock)
    cooldown.claim("cam-1", "record-a")
    cooldown.mark_posted("cam-1", "record-a", "1861")
    clock.now += 3600
    assert cooldown.claim("cam-1", "record-a").result is ClaimResult.ALREADY_POSTED
    assert cooldown.claim("cam-1", "record-b").won


def test_an_unposted_claim_can_be_retaken_by_its_own_record(ddb):
    """A retry after a crash between claim and post must be able to post."""
    cooldown = DeviceCooldown(ddb, "cooldown", 60, Clock())
    assert cooldown.claim("cam-1", "record-a").won
    assert cooldown.claim("cam-1", "record-a").won
    assert cooldown.claim("cam-1", "record-b").result is ClaimResult.COOLING_DOWN


def test_release_frees_the_device_only_for_the_holder_and_only_before_posting(ddb):
    cooldown = DeviceCooldown(ddb, "cooldown", 60, Clock())
    cooldown.claim("cam-1", "record-a")
    assert not cooldown.release("cam-1", "record-b")  # not the holder
    assert cooldown.release("cam-1", "record-a")
    assert item(ddb, "cam-1") is None
    assert cooldown.claim("cam-1", "record-b").won
    cooldown.mark_posted("cam-1", "record-b")
    assert not cooldown.release("cam-1", "record-b")  # posted: the cooldown stands
    assert item(ddb, "cam-1")["State"]["S"] == "POSTED"


def test_mark_posted_reports_a_lost_claim(ddb):
    clock = Clock()
    cooldown = DeviceCooldown(ddb, "cooldown", 60, clock)
    cooldown.claim("cam-1", "record-a")
    clock.now += 61
    cooldown.claim("cam-1", "record-b")
    assert not cooldown.mark_posted("cam-1", "record-a")


def test_zero_cooldown_lets_every_record_tweet(ddb):
    cooldown = DeviceCooldown(ddb, "cooldown", 0, Clock())
    assert cooldown.claim("cam-1", "a").won
    cooldown.mark_posted("cam-1", "a")
    assert cooldown.claim("cam-1", "b").won


def test_a_burst_of_concurrent_records_for_one_device_has_exactly_one_winner(ddb, monkeypatch):
    make_moto_dynamodb_writes_atomic(monkeypatch)
    cooldown = DeviceCooldown(ddb, "cooldown", 60)
    barrier = threading.Barrier(16)
    results = {}

    def claim(n):
        barrier.wait()
        results[n] = cooldown.claim("cam-1", f"record-{n}")

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [n for n, claim in results.items() if claim.won]
    assert len(results) == 16 and len(winners) == 1
    assert item(ddb, "cam-1")["ClaimedBy"]["S"] == f"record-{winners[0]}"
    assert {c.holder for c in results.values() if not c.won} == {f"record-{winners[0]}"}
