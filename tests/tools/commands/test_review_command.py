"""`visionpipe review`: contact sheet with boxes drawn, decisions applied, threshold start shared."""

import base64
import io
import json
import os
import re
from pathlib import Path

import pytest
from moto import mock_aws
from PIL import Image
from support.curation_stack import TABLE, CurationStack
from support.images import jpeg_bytes
from support.lambda_context import FakeLambdaContext
from support.training_data import annotation_bytes

from visionpipe.cli import main
from visionpipe_common.retraining.candidates import CandidateStore


@pytest.fixture
def stack(monkeypatch, tmp_path):
    with mock_aws():
        stack = CurationStack(monkeypatch, threshold=2, auto_approve=False)
        module = stack.curator()
        for i in range(3):
            name = f"raw_cam_20261121-08310{i}"
            event = stack.upload_detection(
                name,
                jpeg_bytes(80, 60, seed=i, brightness=40),
                annotation_bytes(f"{name}.jpg", 80, 60, [(0, 10, 10, 40, 30)], {0: "thumbs-up"}),
            )
            module.lambda_handler(event, FakeLambdaContext())
        bad = stack.upload_detection(
            "raw_cam_20261121-083109",
            jpeg_bytes(80, 60),
            annotation_bytes("raw_cam_20261121-083109.jpg", 80, 60, [(0, 70, 10, 40, 30)], {0: "thumbs-up"}),
        )
        module.lambda_handler(bad, FakeLambdaContext())
        outputs = tmp_path / "outputs.json"
        outputs.write_text(
            json.dumps(
                {
                    "CandidatesTableName": TABLE,
                    "RetrainStateMachineArn": stack.state_machine_arn,
                    "RetrainThreshold": "2",
                }
            )
        )
        stack.outputs = outputs
        yield stack


def test_sheet_shows_every_pending_image_with_its_boxes(stack, tmp_path, capsys):
    out = tmp_path / "review.html"
    assert main(["review", "sheet", "--outputs", str(stack.outputs), "--out", str(out)]) == 0
    page = out.read_text()
    assert "3 retraining candidate(s)" in page
    images = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', page)
    assert len(images) == 3
    picture = Image.open(io.BytesIO(base64.b64decode(images[0]))).convert("RGB")
    # the box outline is drawn in red (class 0) on a dark image: its left edge at x=10..12
    red, green, blue = picture.getpixel((11, 25))
    assert red > 180 and green < 90 and blue < 110
    assert "&quot;class_id&quot;: 0" in page or '"class_id": 0' in page

    all_out = tmp_path / "all.html"
    assert (
        main(["review", "sheet", "--outputs", str(stack.outputs), "--out", str(all_out), "--status", "all"])
        == 0
    )
    assert "is not inside the 80x60 image" in all_out.read_text()


def test_decide_applies_decisions_and_starts_one_round_at_the_threshold(stack, tmp_path, capsys):
    ids = [f"raw_cam_20261121-08310{i}" for i in range(3)]
    assert (
        main(
            [
                "review",
                "decide",
                "--outputs",
                str(stack.outputs),
                "--approve",
                ids[0],
                "--reject",
                ids[2],
                "--reason",
                "blurry",
                "--by",
                "ana",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "approved since the last round: 1/2 (below the threshold)" in printed
    assert stack.executions() == []

    decisions = tmp_path / "decisions.json"
    decisions.write_text(json.dumps({"approve": [ids[1]], "reject": {}}))
    assert main(["review", "decide", "--outputs", str(stack.outputs), "--decisions", str(decisions)]) == 0
    assert "started round 1" in capsys.readouterr().out
    assert [e["name"] for e in stack.executions()] == ["retrain-round-00001"]

    store = CandidateStore(stack.table)
    assert {c.candidate_id for c in store.with_status("approved")} == set(ids[:2])
    (rejected,) = [c for c in store.with_status("rejected") if c.candidate_id == ids[2]]
    assert rejected.reason == "blurry"
    # deciding again on a candidate no longer pending is reported, not applied
    assert main(["review", "decide", "--outputs", str(stack.outputs), "--approve", ids[2]]) == 1
    assert "is rejected, not pending" in capsys.readouterr().out


def test_reject_after_approve_gives_the_count_back(stack, capsys):
    candidate = "raw_cam_20261121-083100"
    assert main(["review", "decide", "--table", TABLE, "--approve", candidate]) == 0
    assert main(["review", "decide", "--table", TABLE, "--reject", candidate]) == 0
    assert stack.table.get_item(Key={"pk": "round#state"})["Item"]["approved"] == 0
    assert main(["review", "list", "--table", TABLE, "--status", "rejected"]) == 0
    assert candidate in capsys.readouterr().out


# ------------------------------------------------------------------ the sheet in a real browser
CHROMIUM = Path(os.environ.get("VISIONPIPE_CHROMIUM", "/usr/bin/chromium"))
needs_browser = pytest.mark.skipif(
    not CHROMIUM.exists() and not os.environ.get("VISIONPIPE_REQUIRE_BROWSER"),
    reason=f"no {CHROMIUM} (Debian's chromium; .ci/run installs it and sets VISIONPIPE_REQUIRE_BROWSER)",
)


@needs_browser
def test_sheet_in_headless_chromium_approve_two_reject_one_save_and_decide(stack, tmp_path, capsys):
    from playwright.sync_api import sync_playwright

    sheet = tmp_path / "review.html"
    assert main(["review", "sheet", "--outputs", str(stack.outputs), "--out", str(sheet)]) == 0
    capsys.readouterr()
    ids = sorted(c.candidate_id for c in CandidateStore(stack.table).with_status("pending"))
    assert len(ids) == 3
    saved = tmp_path / "decisions.json"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(sheet.as_uri())
            assert page.locator(".card").count() == 3
            for cid in ids[:2]:
                page.locator(f'.card[data-id="{cid}"] input[type=radio][value=approve]').check()
            card = page.locator(f'.card[data-id="{ids[2]}"]')
            card.locator("input[type=radio][value=reject]").check()
            card.locator("input.reason").fill("face cut off at the edge")
            with page.expect_download() as download:
                page.get_by_role("button", name="save decisions.json").click()
            assert download.value.suggested_filename == "decisions.json"
            download.value.save_as(saved)
        finally:
            browser.close()
    assert json.loads(saved.read_text()) == {
        "approve": ids[:2],
        "reject": {ids[2]: "face cut off at the edge"},
    }
    assert main(["review", "decide", "--outputs", str(stack.outputs), "--decisions", str(saved)]) == 0
    assert "started round 1" in capsys.readouterr().out
    store = CandidateStore(stack.table)
    assert {c.candidate_id for c in store.with_status("approved")} == set(ids[:2])
    assert store.get(ids[2]).status == "rejected" and store.get(ids[2]).reason == "face cut off at the edge"
