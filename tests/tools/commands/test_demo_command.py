"""`visionpipe demo`'s verdict: exit 0 only when every flow did what it should; otherwise 1 and a
clear message per problem (printed and in summary.json). The full run: tests/integration/test_demo.py."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from visionpipe.commands.demo import Demo, guarded, step_summary
from visionpipe.demo.anomaly import AnomalyOutcome, Upload
from visionpipe.demo.console import Printer
from visionpipe.demo.curation import ReviewResult
from visionpipe.demo.edge import KINDS, EdgeRun
from visionpipe.demo.tweets import TweetResult
from visionpipe_common.retraining.candidates import Candidate
from visionpipe_common.retraining.rounds import StartDecision

RECORD = "json/record_demo-cam_20261121-092528.json"


def demo_with_one_detection(tmp_path: Path) -> tuple[Demo, io.StringIO]:
    """Every flow ran, but the camera uploaded one detection: below RetrainThreshold 3."""
    out = io.StringIO()
    demo = Demo(argparse.Namespace(dir=str(tmp_path)), Printer(out))
    upload = Upload("images", "image_inputs/demo/a.jpg", b"x", "normal", item={"Status": "OK"})
    demo.anomaly = AnomalyOutcome([upload], uploaded_at=0.0, accounted=True)
    demo.edge = EdgeRun(
        "demo-cam",
        "detections",
        Path("faces.avi"),
        frames=30,
        uploaded=1,
        objects_written=6,
        counts=dict.fromkeys(KINDS, 1),
        record_keys=[RECORD],
        annotation_keys=["training_annotation/raw_demo-cam_20261121-092528.json"],
    )
    demo.tweets = TweetResult(
        records=1, outcomes={RECORD: {"status": "DRY_RUN"}}, dry_run=[{"key": "outbox/x", "text": "hi"}]
    )
    demo.review = ReviewResult(
        expected=["raw_demo-cam_20261121-092528"],
        candidates=[Candidate("raw_demo-cam_20261121-092528", "approved")],
        approved=["raw_demo-cam_20261121-092528"],
        threshold=3,
        decision=StartDecision(False, 1, 3, reason="below the threshold"),
    )
    return demo, out


def test_a_round_that_never_started_fails_the_demo_with_the_reason(tmp_path):
    demo, out = demo_with_one_detection(tmp_path)
    assert step_summary(demo) == 1
    printed = out.getvalue()
    assert "NOT every flow did what it should:" in printed
    assert "curation and review: no retraining round started (1/3: below the threshold)" in printed
    assert "retraining: retraining did not run (an earlier flow failed)" in printed
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] is False
    states = {f["name"]: f["ok"] for f in summary["flows"]}
    assert states == {
        "anomaly (images, video)": True,
        "edge camera": True,
        "tweets": True,
        "curation and review": False,
        "retraining": False,
        "visionpipe report": False,
    }
    assert "visionpipe report: visionpipe report did not run (an earlier flow failed)" in printed
    assert (
        summary["retraining"] is None
        and summary["stack_report"] is None
        and summary["edge"]["counts"]["json/"] == 1
    )


def test_a_step_that_raises_fails_its_flow_and_the_demo_goes_on(tmp_path):
    demo, out = demo_with_one_detection(tmp_path)
    demo.log_file.parent.mkdir(parents=True, exist_ok=True)

    def camera_gone(_demo):
        raise RuntimeError("cannot open file:faces.avi")

    guarded(demo, "7. edge camera", camera_gone)
    assert "error: RuntimeError: cannot open file:faces.avi" in out.getvalue()
    assert step_summary(demo) == 1
    assert "edge camera: 7. edge camera raised RuntimeError: cannot open file:faces.avi" in out.getvalue()


def test_missing_uploads_and_edge_objects_are_named(tmp_path):
    demo, out = demo_with_one_detection(tmp_path)
    demo.anomaly.uploads.append(Upload("images", "image_inputs/demo/b.jpg", b"y", "anomalous"))
    demo.anomaly.accounted = False
    demo.edge.counts["frames_resized/"] = 0
    demo.edge.objects_written = 5
    assert step_summary(demo) == 1
    printed = out.getvalue()
    assert "anomaly (images, video): only 1 of 2 uploads were accounted for within the timeout" in printed
    assert "edge camera: no object under frames_resized/" in printed
    assert "edge camera: 5 objects written for 1 detections (6 each)" in printed
