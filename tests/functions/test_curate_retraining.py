"""curate_retraining in-process on moto: valid and invalid annotations, and the start-once threshold."""

import json
import threading
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st
from moto import mock_aws
from support.arbitrary import FUZZ, documents
from support.curation_stack import DETECTIONS_BUCKET, CurationStack, atomic_dynamodb_requests
from support.images import encode, jpeg_bytes, png_bytes, textured_rgb
from support.lambda_context import FakeLambdaContext
from support.training_data import annotation_bytes

from visionpipe.template import load_template
from visionpipe_common.retraining.candidates import CandidateStore
from visionpipe_common.retraining.rounds import RetrainingRounds

NAME = "raw_office-cam-1_20261121-083114"


def test_environment_matches_the_template():
    variables = load_template()["Resources"]["CurateRetrainingFunction"]["Properties"]["Environment"][
        "Variables"
    ]
    assert set(variables) == {
        "POWERTOOLS_SERVICE_NAME",
        "CANDIDATES_TABLE",
        "CLASS_NAMES",
        "RETRAIN_THRESHOLD",
        "AUTO_APPROVE",
        "RETRAIN_STATE_MACHINE_ARN",
    }
    rules = load_template()["Resources"]["CurateRetrainingFunction"]["Properties"]["Events"][
        "TrainingAnnotations"
    ]["Properties"]["Filter"]["S3Key"]["Rules"]
    assert rules == [
        {"Name": "prefix", "Value": "training_annotation/"},
        {"Name": "suffix", "Value": ".json"},
    ]


@pytest.fixture
def stack(monkeypatch):
    with mock_aws():
        yield CurationStack(monkeypatch, threshold=3, auto_approve=False)


def curate(stack, name, image, annotation):
    event = stack.upload_detection(name, image, annotation)
    return stack.curator().lambda_handler(event, FakeLambdaContext())


def test_valid_annotation_becomes_a_pending_candidate(stack):
    result = curate(
        stack,
        NAME,
        jpeg_bytes(64, 48),
        annotation_bytes(f"{NAME}.jpg", 64, 48, [(0, 2, 3, 20, 20), (0, 30, 10, 30, 30)], {0: "thumbs-up"}),
    )
    assert result["candidates"] == [{"candidate_id": NAME, "status": "pending", "message": ""}]
    (candidate,) = CandidateStore(stack.table).with_status("pending")
    assert (candidate.device_id, candidate.captured_at, candidate.boxes, candidate.classes) == (
        "office-cam-1",
        "20261121-083114",
        2,
        ("thumbs-up",),
    )
    assert candidate.image_key == f"raw_images/{NAME}.jpg"
    assert json.loads(candidate.annotation)["categories"] == [
        {"class_id": 0, "name": "thumbs-up"},
        {"class_id": 1, "name": "peace"},
    ]
    assert result["retraining"]["started"] is False and stack.executions() == []


def test_class_ids_follow_the_class_map_by_name(stack):
    curate(
        stack,
        NAME,
        jpeg_bytes(64, 48),
        annotation_bytes(f"{NAME}.jpg", 64, 48, [(7, 2, 3, 20, 20)], {7: "peace"}),
    )
    (candidate,) = CandidateStore(stack.table).with_status("pending")
    assert json.loads(candidate.annotation)["annotations"][0]["class_id"] == 1


@pytest.mark.parametrize(
    ("image", "annotation", "reason"),
    [
        (
            jpeg_bytes(64, 48),
            annotation_bytes(f"{NAME}.jpg", 640, 480, [(0, 2, 3, 20, 20)], {0: "thumbs-up"}),
            "image_size says 640x480 but the image is 64x48",
        ),
        (
            jpeg_bytes(64, 48),
            annotation_bytes(f"{NAME}.jpg", 64, 48, [(0, 50, 3, 20, 20)], {0: "thumbs-up"}),
            "box 0 (left=50, top=3, width=20, height=20) is not inside the 64x48 image",
        ),
        (
            jpeg_bytes(64, 48),
            annotation_bytes(f"{NAME}.jpg", 64, 48, [(0, 2, 3, 20, 20)], {0: "cat"}),
            "unknown class(es) 'cat'",
        ),
        (jpeg_bytes(64, 48), b'{"file": "x.jpg"', "not valid JSON"),
        (
            jpeg_bytes(64, 48),
            annotation_bytes(f"{NAME}.jpg", 64, 48, [(3, 2, 3, 20, 20)], {0: "thumbs-up"}),
            "box 0 has class_id 3, which 'categories' does not name",
        ),
        (
            jpeg_bytes(64, 48),
            annotation_bytes(f"{NAME}.jpg", 64, 48, [], {0: "thumbs-up"}),
            "no boxes to train on",
        ),
        (
            b"not an image at all",
            annotation_bytes(f"{NAME}.jpg", 64, 48, [(0, 2, 3, 20, 20)], {0: "thumbs-up"}),
            "is not a readable JPEG or PNG",
        ),
        (
            jpeg_bytes(64, 48),
            annotation_bytes("other.jpg", 64, 48, [(0, 2, 3, 20, 20)], {0: "thumbs-up"}),
            "raw image raw_images/other.jpg not found",
        ),
        # Inputs that once escaped as ValueError/OverflowError/RecursionError (retried, then parked):
        (
            jpeg_bytes(64, 48),
            annotation_bytes(f"{NAME}.jpg", 64, 48, [(0, 2, 3, 20, 20)], {0: "thumbs-up"}).replace(
                b'"left": 2', b'"left": NaN'
            ),
            "NaN is not allowed",
        ),
        (
            jpeg_bytes(64, 48),
            annotation_bytes(f"{NAME}.jpg", 64, 48, [(0, 2, 3, 20, 20)], {0: "thumbs-up"}).replace(
                b'"width": 20', b'"width": 1e999'
            ),
            "out of range",
        ),
        (jpeg_bytes(64, 48), b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (
            jpeg_bytes(64, 48),
            annotation_bytes(f"{NAME}.jpg", 64, 48, [(0, 2, 3, 20, 20)] * 14_000, {0: "thumbs-up"}),
            "over the limit",
        ),
    ],
)
def test_invalid_annotations_are_rejected_with_the_reason(stack, image, annotation, reason):
    result = curate(stack, NAME, image, annotation)
    assert result["candidates"][0]["status"] == "rejected"
    (candidate,) = CandidateStore(stack.table).with_status("rejected")
    assert reason in candidate.reason
    assert candidate.annotation_key == f"training_annotation/{NAME}.json"


def test_header_only_size_check_reads_png_and_jpegs_with_large_headers(stack):
    curate(
        stack,
        NAME,
        png_bytes(64, 48),
        annotation_bytes(f"{NAME}.jpg", 64, 48, [(0, 1, 1, 9, 9)], {0: "thumbs-up"}),
    )
    # an ICC profile split over APP2 segments puts the frame header past the first 64 KiB read
    big = encode(textured_rgb(64, 48), "JPEG", icc_profile=bytes(100_000))
    assert len(big) > 100_000
    curate(
        stack,
        NAME.replace("083114", "083115"),
        big,
        annotation_bytes(
            f"{NAME.replace('083114', '083115')}.jpg", 64, 48, [(0, 1, 1, 9, 9)], {0: "thumbs-up"}
        ),
    )
    assert len(CandidateStore(stack.table).with_status("pending")) == 2


def test_redelivery_does_not_undo_a_decision(stack):
    image, annotation = (
        jpeg_bytes(64, 48),
        annotation_bytes(f"{NAME}.jpg", 64, 48, [(0, 1, 1, 9, 9)], {0: "thumbs-up"}),
    )
    curate(stack, NAME, image, annotation)
    store = CandidateStore(stack.table)
    assert store.approve(NAME).ok
    again = curate(stack, NAME, image, annotation)
    assert again["candidates"][0] == {
        "candidate_id": NAME,
        "status": "approved",
        "message": "already approved; left unchanged",
    }
    assert RetrainingRounds(stack.table, stack.sfn, stack.state_machine_arn, 3).state().approved == 1


def test_test_events_and_foreign_events_record_nothing(stack):
    module = stack.curator()
    assert (
        module.lambda_handler({"Event": "s3:TestEvent", "Bucket": DETECTIONS_BUCKET}, FakeLambdaContext())[
            "candidates"
        ]
        == []
    )
    assert module.lambda_handler({"hello": "world"}, FakeLambdaContext())["candidates"] == []
    assert stack.table.scan()["Items"] == []


def test_concurrent_events_at_the_threshold_start_exactly_one_execution(monkeypatch):
    with mock_aws():
        stack = CurationStack(monkeypatch, threshold=5, auto_approve=True)
        atomic_dynamodb_requests(monkeypatch)
        module = stack.curator()
        events = [
            stack.upload_detection(
                f"raw_cam-{i}_20261121-0831{i:02d}",
                jpeg_bytes(32, 32, seed=i),
                annotation_bytes(
                    f"raw_cam-{i}_20261121-0831{i:02d}.jpg", 32, 32, [(0, 1, 1, 9, 9)], {0: "thumbs-up"}
                ),
            )
            for i in range(12)
        ]
        barrier = threading.Barrier(len(events))
        results, errors = [], []

        def deliver(event):
            barrier.wait()
            try:
                results.append(module.lambda_handler(event, FakeLambdaContext()))
            except Exception as exc:  # surfaced below
                errors.append("".join(__import__("traceback").format_exception(exc)))

        threads = [threading.Thread(target=deliver, args=(event,)) for event in events]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sum(r["retraining"]["started"] for r in results) == 1
        (execution,) = stack.executions()
        assert execution["name"] == "retrain-round-00001"
        state = RetrainingRounds(stack.table, stack.sfn, stack.state_machine_arn, 5).state()
        assert (state.running, state.next_round, state.approved) == (1, 2, 12)
        assert len(CandidateStore(stack.table).with_status("approved")) == 12


def test_start_once_under_many_threads_calling_maybe_start(monkeypatch):
    with mock_aws():
        stack = CurationStack(monkeypatch, threshold=2, auto_approve=False)
        atomic_dynamodb_requests(monkeypatch)
        stack.table.put_item(Item={"pk": "round#state", "approved": 4})
        rounds = RetrainingRounds(stack.table, stack.sfn, stack.state_machine_arn, 2)
        barrier = threading.Barrier(16)
        decisions = []

        def race(i):
            barrier.wait()
            decisions.append(rounds.maybe_start(trigger=f"thread-{i}"))

        threads = [threading.Thread(target=race, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(d.started for d in decisions) == 1
        assert len(stack.executions()) == 1
        assert rounds.finish(1, {"outcome": "kept"}) is True
        assert rounds.finish(1, {"outcome": "kept"}) is False  # closing twice changes nothing
        assert rounds.state().running is None


@FUZZ
@given(
    annotation=documents(
        {
            "file": st.just(f"{NAME}.jpg") | st.text(max_size=20),
            "image_size": st.lists(st.fixed_dictionaries({"width": st.floats(), "height": st.integers()})),
            "annotations": st.lists(
                st.dictionaries(st.sampled_from(["class_id", "left", "width"]), st.floats())
            ),
            "categories": st.lists(st.fixed_dictionaries({"class_id": st.integers(), "name": st.text()})),
        }
    )
)
def test_any_annotation_ends_as_one_candidate_and_never_fails_the_invocation(stack, annotation):
    name = f"raw_office-cam-1_2026{uuid.uuid4().int % 10**8:08d}-083114"
    (outcome,) = curate(stack, name, jpeg_bytes(64, 48), annotation)["candidates"]
    candidate = CandidateStore(stack.table).get(name)
    assert candidate is not None and candidate.status == outcome["status"] in ("pending", "rejected")
