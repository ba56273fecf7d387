"""`visionpipe report` against moto's server: a month of factory data (5 cameras, 30 days, verdict
items, retraining rounds) read through the real APIs, and every figure checked against the
generator's own tally (tests/support/report_data.py), which shares no code with the report."""

from __future__ import annotations

import csv
import json
import math
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.config import default_user_config
from moto.s3.models import s3_backends
from moto.server import ThreadedMotoServer
from support import report_data

from visionpipe.cli import main
from visionpipe.report.build import ReportOptions, run_report
from visionpipe.report.sources import StackSources, Window

# One moto server and one seeded month for the whole module: keep its tests on one xdist worker.
pytestmark = pytest.mark.xdist_group("report_moto")

START = datetime(2026, 10, 20, tzinfo=UTC)
DAYS = 30
RECORDS = 1000
VERDICTS = 400
THRESHOLD = 0.8

ROUND_OUTPUTS = {
    "adopted": {
        "round": 1,
        "build": {"result": {"training_job_name": "retrain-1", "train_images": 40, "validation_images": 10}},
        "evaluation": {"new_map": 0.62},
        "current_model": {"map": -1, "label": "none (first model)"},
        "model_package": {"arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/vp/1"},
        "component": {"result": {"component_version": "1.0.1"}},
    },
    "kept": {
        "round": 2,
        "build": {"result": {"training_job_name": "retrain-2", "train_images": 52, "validation_images": 13}},
        "evaluation": {"new_map": 0.58},
        "current_model": {"map": 0.62, "label": "0.62"},
    },
}


def _state_machine(result: dict | None) -> str:
    if result is None:
        states = {"Boom": {"Type": "Fail", "Error": "SageMaker.TrainingJobFailed", "Cause": "no GPU today"}}
        return json.dumps({"StartAt": "Boom", "States": states})
    return json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": result, "End": True}}}
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    previous = default_user_config.get("stepfunctions")
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    try:
        endpoint = f"http://127.0.0.1:{server.get_host_and_port()[1]}"
        session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
        s3, dynamodb = (
            session.client("s3", endpoint_url=endpoint),
            session.client("dynamodb", endpoint_url=endpoint),
        )
        for bucket in ("factory-detections", "factory-results", "factory-images"):
            s3.create_bucket(Bucket=bucket)
        dynamodb.create_table(
            TableName="factory-results",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "RequestID", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "RequestID", "KeyType": "HASH"}],
        )
        backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        photo = report_data.photo_png((200, 150))
        tally = report_data.seed_stack(
            s3,
            dynamodb,
            "factory-detections",
            "factory-results",
            RECORDS,
            VERDICTS,
            START,
            DAYS,
            images={"heatmap": photo},
            results_bucket="factory-results",
            direct_put=lambda bucket, key, body: backend.put_object(bucket, key, body),
        )
        for item in tally.verdicts:  # the judged images, for the anomaly thumbnails
            if item.get("DetectAnomalyResult") == "True":
                s3.put_object(Bucket="factory-images", Key=item["Key"], Body=photo)
        sfn = session.client("stepfunctions", endpoint_url=endpoint)
        arn = sfn.create_state_machine(
            name="retrain", definition=_state_machine(None), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        for result in (ROUND_OUTPUTS["adopted"], ROUND_OUTPUTS["kept"], None):
            sfn.update_state_machine(stateMachineArn=arn, definition=_state_machine(result))
            number = result["round"] if result else 3
            execution = sfn.start_execution(
                stateMachineArn=arn, name=f"retrain-round-{number:05d}", input=json.dumps({"round": number})
            )["executionArn"]
            deadline = time.monotonic() + 20
            while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.05)
        sources = StackSources(
            detections_bucket="factory-detections",
            results_table="factory-results",
            results_bucket="factory-results",
            state_machine_arn=arn,
            endpoint_url=endpoint,
            described_as="moto test stack",
        )
        yield sources, tally
    finally:
        default_user_config["stepfunctions"] = previous
        server.stop()


@pytest.fixture(scope="module")
def month(stack, tmp_path_factory):
    sources, tally = stack
    out = tmp_path_factory.mktemp("report-month")
    options = ReportOptions(
        window=Window(START, START + timedelta(days=DAYS)),
        threshold=THRESHOLD,
        workers=8,
        scan_page_size=50,
        refresh=30,
    )
    return run_report(sources, options, out), tally


def test_detections_match_the_generators_count(month):
    result, tally = month
    figures = result.figures["detections"]
    expected = tally.expected_detections(START, START + timedelta(days=DAYS), THRESHOLD)
    assert figures["detections"] == expected["detections"] and expected["detections"] > RECORDS
    assert figures["records"] == expected["records"] == RECORDS
    assert len(figures["days"]) == DAYS
    assert figures["per_day"] == {day: expected["per_day"].get(day, 0) for day in figures["days"]}
    assert figures["per_hour"] == expected["per_hour"]
    assert figures["per_label"] == dict(expected["per_label"])
    assert sorted(figures["devices"]) == sorted(report_data.DEVICES)  # paint_booth-3 has a "_" in its name
    for device, block in figures["per_device"].items():
        assert block["detections"] == expected["per_device"][device]
        by_day = tally.expected_detections(START, START + timedelta(days=DAYS), THRESHOLD, device=device)
        assert block["per_hour"] == by_day["per_hour"]
        assert block["per_day"] == {day: by_day["per_day"].get(day, 0) for day in figures["days"]}


def test_confidence_figures_are_exact(month):
    result, tally = month
    confidence = result.figures["detections"]["confidence"]
    expected = tally.expected_detections(START, START + timedelta(days=DAYS), THRESHOLD)["confidence"]
    groups = [(("all", ""), confidence["all"])]
    groups += [
        (("device", d), b["confidence"]) for d, b in result.figures["detections"]["per_device"].items()
    ]
    groups += [(("label", name), s) for name, s in confidence["per_label"].items()]
    groups += [(("day", day), s) for day, s in confidence["per_day"].items()]
    assert len(groups) == 1 + 5 + 4 + DAYS
    for group, summary in groups:
        want = expected[group]
        assert summary["count"] == want["count"], group
        assert math.isclose(summary["mean"], want["mean"], abs_tol=1e-4), group
        assert math.isclose(summary["median"], want["median"], abs_tol=1e-9), group
        assert math.isclose(summary["share_at_or_above_threshold"], want["share"], abs_tol=1e-4), group


def test_verdicts_match_the_generators_count(month):
    result, tally = month
    figures = result.figures["verdicts"]
    window = result.figures["window"]
    expected = tally.expected_verdicts(window["since"], window["until"])
    assert (figures["processed"], figures["anomalies"], figures["failures"]) == (
        expected["processed"],
        expected["anomalies"],
        expected["failures"],
    )
    assert figures["anomaly_ratio"] == round(expected["anomalies"] / expected["processed"], 4)
    assert {s: b["processed"] for s, b in figures["per_source"].items()} == dict(expected["per_source"])
    for day, block in figures["per_day"].items():
        assert block["processed"] == expected["per_day"].get(day, 0)
        assert block["anomalies"] == expected["anomalies_per_day"].get(day, 0)
    # reasons with figures in them are grouped: the two "N pixels" reasons are one group
    grouped = {}
    for reason, n in expected["reasons"].items():
        key = "image is N pixels, over the limit of N" if "pixels" in reason else None
        grouped[key or reason] = grouped.get(key or reason, 0) + n
    assert sum(figures["failures_by_reason"].values()) == expected["failures"]
    assert (
        figures["failures_by_reason"]["image is N pixels, over the limit of N"]
        == grouped["image is N pixels, over the limit of N"]
    )
    for name in ("p50", "p95"):
        want = expected[f"latency_{name}"]
        assert abs(figures["detect_latency_ms"][name] - want) <= 0.0051 * want, name
    assert figures["with_heatmap"] == expected["with_heatmap"] > 0
    # Scan: every item read once, in pages of at most 50 items from 4 segments
    scan = result.figures["read"]["verdicts"]
    assert scan["scanned"] == VERDICTS and scan["matched"] == len(tally.verdicts)
    assert scan["scan_calls"] >= VERDICTS // 50


def test_retraining_rounds_adopted_kept_failed(stack, month, tmp_path):
    assert month[0].figures["retraining"]["rounds"] == []  # the rounds ran today, not in October
    sources, _ = stack
    now = datetime.now(UTC)
    result = run_report(sources, ReportOptions(Window(now - timedelta(hours=1), now), page=False), tmp_path)
    rounds = result.figures["retraining"]["rounds"]
    assert [(r["round"], r["outcome"], r["validation_map"]) for r in rounds] == [
        (1, "adopted", 0.62),
        (2, "kept", 0.58),
        (3, "failed", None),
    ]
    assert rounds[0]["component_version"] == "1.0.1" and rounds[1]["compared_with"] == "0.62"
    assert "no GPU today" in rounds[2]["error"]


def test_outputs_page_charts_and_extracts(month):
    result, tally = month
    out = result.out_dir
    page = (out / "report.html").read_text()
    # self-contained: no script, nothing fetched from anywhere
    assert "<script" not in page and 'src="http' not in page and "url(" not in page
    assert page.count('src="data:image/png;base64,') >= 14
    assert 'alt="heatmap"' in page  # items with HeatmapKey show their heatmap beside the image
    assert '<meta http-equiv="refresh" content="30">' in page  # --watch: the open page reloads itself
    for name in (
        "detections_per_day",
        "detections_per_hour",
        "devices",
        "confidence_by_device",
        "verdicts_per_day",
    ):
        assert (out / "charts" / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    with (out / "detections.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(tally.detections)
    assert sum(float(r["confidence"]) for r in rows) == pytest.approx(
        sum(d["confidence"] for d in tally.detections)
    )
    with (out / "verdicts.csv").open() as f:
        assert sum(1 for _ in csv.DictReader(f)) == VERDICTS
    with (out / "detections_per_day.csv").open() as f:
        assert sum(int(r["detections"]) for r in csv.DictReader(f)) == len(tally.detections)
    assert json.loads((out / "report.json").read_text())["detections"]["detections"] == len(tally.detections)
    assert not list(out.rglob("*.partial"))
    read = result.figures["read"]["detections"]
    assert read["unreadable"] == len(tally.malformed_keys) == 2


def test_a_week_reads_only_that_weeks_records(stack, tmp_path):
    sources, tally = stack
    since, until = START + timedelta(days=10, hours=6), START + timedelta(days=17, hours=6)
    result = run_report(
        sources, ReportOptions(Window(since, until), threshold=THRESHOLD, page=False), tmp_path
    )
    expected = tally.expected_detections(since, until, THRESHOLD)
    figures = result.figures["detections"]
    assert figures["detections"] == expected["detections"] and figures["records"] == expected["records"]
    read = result.figures["read"]["detections"]
    # skipped by the time in the key: no GetObject for records outside the week
    assert read["get_calls"] == expected["records"] + sum(
        1
        for k in tally.malformed_keys
        if since <= datetime.strptime(k[-20:-5], "%Y%m%d-%H%M%S").replace(tzinfo=UTC) < until
    )
    assert read["outside_window_by_key"] == RECORDS + len(tally.malformed_keys) - read["get_calls"]
    expected_verdicts = tally.expected_verdicts(
        result.figures["window"]["since"], result.figures["window"]["until"]
    )
    assert result.figures["verdicts"]["processed"] == expected_verdicts["processed"]


def test_device_and_label_filters(stack, tmp_path):
    sources, tally = stack
    window = Window(START, START + timedelta(days=DAYS))
    device, label = "paint_booth-3", "forklift"
    result = run_report(sources, ReportOptions(window, device=device, label=label, page=False), tmp_path)
    figures = result.figures["detections"]
    expected = tally.expected_detections(window.since, window.until, 0.8, device=device, label=label)
    assert figures["devices"] == [device] and figures["labels"] == [label]
    assert figures["detections"] == expected["detections"] > 0
    assert result.figures["filters"]["prefix"] == f"json/record_{device}_"
    listed = result.figures["read"]["detections"]["listed"]
    assert listed == sum(
        1 for k in {d["key"] for d in tally.detections} if device in k
    )  # only its keys listed


# ----------------------------------------------------------------------------------- the command
def _state_file(sources, tmp_path):
    path = tmp_path / "local-1.json"
    outputs = {
        "DetectionsBucketName": sources.detections_bucket,
        "ResultsTableName": sources.results_table,
        "ResultsBucketName": sources.results_bucket,
        "RetrainStateMachineArn": sources.state_machine_arn,
    }
    path.write_text(json.dumps({"endpoint_url": sources.endpoint_url, "outputs": outputs}))
    return path


def test_command_prints_the_figures_as_json(stack, tmp_path, capsys):
    sources, tally = stack
    since, until = START + timedelta(days=3), START + timedelta(days=5)
    argv = ["report", "--outputs", str(_state_file(sources, tmp_path)), "--out", str(tmp_path / "out")]
    argv += ["--since", since.isoformat(), "--until", until.isoformat(), "--json", "--no-page"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    figures = json.loads(captured.out)
    assert figures["detections"]["detections"] == len(tally.in_window(since, until))
    assert figures["window"]["since"] == "2026-10-23T00:00:00.000Z"
    assert "detections in" in captured.err and (tmp_path / "out" / "report.json").exists()
    assert not (tmp_path / "out" / "report.html").exists() and (tmp_path / "out" / "detections.csv").exists()


def test_command_rejects_bad_arguments(tmp_path):
    assert main(["report", "--bucket", "b", "--watch", "0"]) == 2
    assert main(["report", "--bucket", "b", "--threshold", "1.5"]) == 2
    assert main(["report", "--bucket", "b", "--since", "2026-11-02", "--until", "2026-11-01"]) == 2


def test_watch_regenerates_until_interrupted(stack, tmp_path):
    sources, _ = stack
    out = tmp_path / "out"
    argv = ["report", "--outputs", str(_state_file(sources, tmp_path)), "--out", str(out), "--no-page"]
    argv += [
        "--since",
        START.isoformat(),
        "--until",
        (START + timedelta(days=1)).isoformat(),
        "--watch",
        "0.2",
    ]
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from visionpipe.cli import main; sys.exit(main())", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        first = None
        while time.monotonic() < deadline:  # two different pages: it regenerated
            if (out / "report.json").exists():
                stamp = (out / "report.json").stat().st_mtime_ns
                first = first or stamp
                if stamp != first:
                    break
            time.sleep(0.1)
        else:
            raise AssertionError("the page was not regenerated")
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert stdout.count("detections in") >= 2 and "stopped after" in stderr and "Traceback" not in stderr
    assert not list(out.rglob("*.partial"))
