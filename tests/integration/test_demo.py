"""`visionpipe demo` end to end, as `make demo` runs it: its own process (its own moto server and
local stack, so it never shares moto's in-process state with the `local_stack` fixture), a small
sample set made beforehand so the run takes ~25 s. Every flow's outcome is checked from what the demo
wrote (summary.json, report.html, review.html) and printed, not only the exit code."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from visionpipe.demo.edge import KINDS
from visionpipe.local import model as local_model

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local_stack")]


def test_demo_runs_every_flow_and_reports_each_outcome(tmp_path):
    local_model.generate_sample_data(tmp_path / "data", normal=40, anomalous=12, video=True)
    argv = ["demo", "--dir", str(tmp_path), "--normal", "4", "--anomalous", "2"]
    completed = subprocess.run(
        [sys.executable, "-c", "import sys; from visionpipe.cli import main; sys.exit(main())", *argv],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    out = completed.stdout
    assert completed.returncode == 0, out[-3000:] + completed.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["ok"] and [f["name"] for f in summary["flows"]] == [
        "anomaly (images, video)",
        "edge camera",
        "tweets",
        "curation and review",
        "retraining",
        "rollout",
        "visionpipe report",
    ]
    assert all(f["ok"] and not f["problems"] for f in summary["flows"])

    # anomaly first, unchanged: 4 normal + 2 anomalous + 2 bad inputs + the video, all accounted for
    anomaly = summary["anomaly"]
    assert anomaly["accounted"] and anomaly["settled"] == 9
    assert "labelled uploads judged correctly" in out and out.index("== 6. verdicts") < out.index(
        "== 7. edge"
    )

    # edge camera: 6 s of 5 fps footage, one upload per 1.5 s -> four detections, six kinds each
    edge = summary["edge"]
    assert edge["frames"] == 30 and edge["frames_with_detections"] == 24  # 4 of every 5 frames show a face
    detections = edge["uploaded"]
    assert detections >= 3 and edge["objects_written"] == 6 * detections and edge["failed"] == 0
    assert edge["counts"] == {kind: 1 if kind == "latest/" else detections for kind in KINDS}
    assert f"objects written per prefix: images/ {detections}, json/ {detections}, latest/ 1" in out

    # tweets: one dry run per device within the 60 s cooldown, the others suppressed
    tweets = summary["tweets"]
    assert tweets["records"] == detections and tweets["cooldown_seconds"] == "60"
    assert tweets["statuses"] == {"DRY_RUN": 1, "SUPPRESSED": detections - 1}
    (entry,) = tweets["dry_run"]
    assert entry["key"].startswith("outbox/dry-run/demo-cam/") and entry["device_id"] == "demo-cam"
    assert entry["objects"][0]["object"] == "face"
    assert f"tweet text: {entry['text']!r}" in out

    # curation and review: every annotation a pending candidate, a sheet, all approved, one round
    review = summary["review"]
    ids = [c["candidate_id"] for c in review["candidates"]]
    assert len(ids) == detections and all(c["status"] == "pending" for c in review["candidates"])
    assert sorted(review["approved"]) == sorted(ids) and review["executions_started"] == 1
    assert review["decision"]["started"] and review["decision"]["round"] == 1
    sheet = (tmp_path / "review.html").read_text()
    assert all(f'data-id="{cid}"' in sheet for cid in ids) and sheet.count("data:image/jpeg;base64,") == len(
        ids
    )
    # after the round, the sheet and the report show the statuses as they are now, not "pending"
    assert [c["status"] for c in review["now"]] == ["trained"] * len(ids)
    assert sheet.count('<div class="card trained"') == len(ids) and "<b>pending</b>" not in sheet

    # retraining: really trained, a measured mAP, adopted (first model), component version deployable
    retraining = summary["retraining"]
    assert retraining["status"] == "SUCCEEDED" and retraining["outcome"] == "adopted"
    assert retraining["states"][0] == "BuildDataset" and retraining["states"][-1] == "Adopted"
    assert retraining["training_status"] == "Completed" and 0.5 < retraining["validation_map"] <= 1.0
    assert retraining["new_candidates"] == detections
    assert re.fullmatch(r"\d+\.\d+\.\d+", retraining["component_version"])
    assert retraining["component_state"] == "DEPLOYABLE" and retraining["model_package"].endswith("/1")
    assert retraining["notification_subject"] == "visionpipe retraining round 1: new model adopted"
    assert f"validation:mAP {retraining['validation_map']:.3f}" in out

    # rollout: the camera, started against the stack as a core of the rollout target, ran the
    # adopted model: its records name the new component version and the trained detector
    rollout = summary["rollout"]
    before = edge["models"][0]
    assert (before["name"], before["detector"]) == ("frontalface-haar", "cascade")
    assert before["version"] != retraining["component_version"]
    assert rollout["models"] and all(
        m["version"] == retraining["component_version"] and m["detector"] == "hog" for m in rollout["models"]
    )
    assert rollout["uploaded"] >= 1 and rollout["failed"] == 0

    # the report: a section per flow, the annotated edge frame, a link to the review sheet
    report = (tmp_path / "report.html").read_text()
    for title in (
        "Summary",
        "1. Anomaly",
        "2. Edge camera",
        "3. Tweets",
        "4. Curation",
        "5. Retraining",
        "6. Rollout",
    ):
        assert f"<h2>{title}" in report
    assert 'alt="annotated edge frame"' in report and '<a href="review.html">' in report
    assert entry["text"] in report
    assert report.count("<td>pending</td><td>trained</td>") == len(ids)  # curator's verdict, status now
    assert "NoSuchJsonPathError" not in out + completed.stderr  # the first round finds no current model

    # visionpipe report read the stack back: the demo's records (the camera before and after the
    # rollout), verdicts, failures and round
    stack = summary["stack_report"]
    records = detections + rollout["uploaded"]
    assert stack["records"] == records and sorted(stack["devices"]) == ["demo-cam", "demo-cam-after"]
    anomalies, judged = (int(n) for n in re.search(r"anomaly ratio: (\d+)/(\d+) =", out).groups())
    assert (stack["verdicts"], stack["anomalies"]) == (judged, anomalies)
    assert stack["failures"] == 2  # the two bad inputs
    assert stack["expected"]["records"] == records and stack["rounds"] == 1 and not stack["problems"]
    page = (tmp_path / "stack-report" / "report.html").read_text()
    assert "<script" not in page and 'src="http' not in page
    assert page.count('src="data:image/png;base64,') >= 14
    figures = json.loads((tmp_path / "stack-report" / "report.json").read_text())
    assert figures["detections"]["records"] == records
    assert figures["verdicts"]["processed"] == stack["verdicts"]
    assert figures["retraining"]["rounds"][0]["outcome"] == "adopted"
    assert '<a href="stack-report/report.html">' in report
    assert f"visionpipe report: {stack['headline']}" in out

    # a timing per step, in order
    steps = re.findall(r"^  (\d+)\. .+?\s+(\d+\.\d) s$", out, flags=re.MULTILINE)
    assert [int(n) for n, _ in steps] == list(range(1, 14))
    assert list(summary["seconds"]) == [
        "1. sample data",
        "2. anomaly model",
        "3. local stack",
        "4. uploads",
        "5. waiting for the flows",
        "6. verdicts",
        "7. edge camera",
        "8. tweets",
        "9. curation and review",
        "10. retraining",
        "11. rollout",
        "12. what the stack saw",
        "13. report",
    ]
