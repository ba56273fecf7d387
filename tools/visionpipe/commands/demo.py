"""`visionpipe demo` (what `make demo` runs): every flow locally, in one command.

Anomaly: sample data -> a trained anomaly model (metrics printed) -> the local stack in-process ->
a video, normal and anomalous images and a few bad inputs uploaded -> every upload accounted for
(a verdict or a failure item) -> a table of verdicts and the anomaly ratio.
Edge and retraining: the edge device loop on a short video of real photographs with faces writes
the six kinds of detection object -> tweet_detection's dry-run tweets (and the cooldown) ->
the annotations become retraining candidates -> a review sheet and approvals start one round ->
real training, measured validation:mAP, model package and Greengrass component version.
Then `visionpipe report` reads the stack's data back (.demo/stack-report/report.html: what the
cameras and the inspection line saw) and must show what the demo did. Everything ends in
.demo/report.html (linking that page) and a summary; the exit code is 0 only if every flow worked.
The logic lives in tools/visionpipe/demo/; this file runs the steps in order.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visionpipe.demo.console import Printer, Tee
from visionpipe.demo.report import Flow, write_summary
from visionpipe.template import REPO_ROOT

DEMO_DIR = REPO_ROOT / ".demo"
DEVICE_NAME = "demo-cam"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run every flow locally: anomaly verdicts, edge camera, tweets, review, retraining, HTML report",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--dir", default=str(DEMO_DIR), help="working folder (default .demo/)")
    parser.add_argument("--normal", type=int, default=16, help="normal images to upload (default 16)")
    parser.add_argument("--anomalous", type=int, default=8, help="anomalous images to upload (default 8)")
    parser.add_argument("--no-video", action="store_true", help="skip the video upload")
    parser.add_argument(
        "--edge-seconds", type=int, default=6, help="length of the edge camera's face video (default 6)"
    )
    parser.add_argument(
        "--edge-interval",
        type=float,
        default=1.5,
        help="the device's upload interval in seconds (default 1.5: one record per 1.5 s)",
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for each flow")
    parser.set_defaults(func=run)


@dataclass
class Demo:
    """What the steps share: options, folders, the stack, and each flow's result."""

    args: argparse.Namespace
    say: Printer
    started: float = field(default_factory=time.perf_counter)
    stack: Any = None
    outputs: dict = field(default_factory=dict)
    anomaly: Any = None  # demo.anomaly.AnomalyOutcome
    edge: Any = None  # demo.edge.EdgeRun
    tweets: Any = None  # demo.tweets.TweetResult
    base_dataset: Any = None  # dataset.upload.UploadReport
    review: Any = None  # demo.curation.ReviewResult
    round: Any = None  # demo.retraining.RoundResult
    rollout: Any = None  # demo.edge.EdgeRun of the camera after the rollout
    stack_report: Any = None  # demo.stack_report.StackReport
    inbox: str = ""  # SQS queue subscribed to the retraining notifications
    errors: dict[str, str] = field(default_factory=dict)  # step -> what it raised
    report: Path | None = None

    @property
    def work(self) -> Path:
        return Path(self.args.dir)

    @property
    def log_file(self) -> Path:
        return self.work / "local.log"


def run(args: argparse.Namespace) -> int:
    demo = Demo(args, Printer(sys.stdout))
    demo.work.mkdir(parents=True, exist_ok=True)
    with demo.say.step("1. sample data"):
        step_sample_data(demo)
    with demo.say.step("2. anomaly model"):
        step_anomaly_model(demo)
    with handler_logs(demo.log_file):
        with demo.say.step("3. local stack"):
            stack = step_local_stack(demo)
        with stack:
            for title, step in FLOW_STEPS:
                with demo.say.step(title):
                    guarded(demo, title, step)
    return step_summary(demo)


# ------------------------------------------------------------------------------------ anomaly model
def step_sample_data(demo: Demo) -> None:
    from visionpipe.local import model as local_model

    data_dir = demo.work / "data"
    if (data_dir / "manifest.json").exists():
        demo.say(f"using {data_dir} (delete it to regenerate)")
    else:
        local_model.generate_sample_data(data_dir)


def step_anomaly_model(demo: Demo) -> None:
    from visionpipe.local import model as local_model

    model_dir = demo.work / "model"
    report_file = model_dir / "training-report.txt"
    if local_model.has_model(model_dir) and report_file.exists():
        demo.say(f"using the model trained earlier in {model_dir}:")
        demo.say(report_file.read_text().rstrip())
    else:
        buffer = io.StringIO()
        with contextlib.redirect_stdout(Tee(sys.stdout, buffer)):
            local_model.train_model(demo.work / "data", model_dir)
        report_file.write_text(buffer.getvalue())


def step_local_stack(demo: Demo):
    from visionpipe.local.stack import OfflineStack

    stack = OfflineStack(port=0, model_dir=demo.work / "model").start()
    demo.stack, demo.outputs = stack, stack.outputs()
    demo.say(
        f"moto server at {stack.endpoint_url}; {len(stack.functions)} functions loaded in-process; "
        f"handler logs in {demo.log_file}"
    )
    return stack


# ------------------------------------------------------------------------------------ anomaly flow
def step_uploads(demo: Demo) -> None:
    from visionpipe.demo import anomaly

    uploads = anomaly.plan_uploads(
        demo.work / "data",
        demo.outputs,
        demo.args.normal,
        demo.args.anomalous,
        with_video=not demo.args.no_video and anomaly.frame_capture_exists(demo.stack),
    )
    s3 = demo.stack.client("s3")
    for upload in uploads:
        s3.put_object(Bucket=upload.bucket, Key=upload.key, Body=upload.body)
    demo.anomaly = anomaly.AnomalyOutcome(uploads, uploaded_at=time.perf_counter())
    counts = {
        label: sum(1 for u in uploads if u.label == label)
        for label in dict.fromkeys(u.label for u in uploads)
    }
    demo.say("uploaded " + ", ".join(f"{n} {label}" for label, n in counts.items()))


def step_wait_for_verdicts(demo: Demo) -> None:
    from visionpipe.demo import anomaly

    outcome = demo.anomaly
    outcome.accounted = anomaly.wait_for_results(demo.stack, demo.outputs, outcome.uploads, demo.args.timeout)
    outcome.seconds = time.perf_counter() - outcome.uploaded_at
    demo.say(f"{outcome.settled} of {len(outcome.uploads)} uploads accounted for in {outcome.seconds:.1f} s")


def step_verdicts(demo: Demo) -> None:
    from visionpipe.demo import anomaly

    outcome = demo.anomaly
    outcome.rows = anomaly.result_rows(outcome.uploads)
    demo.say(anomaly.render_table(outcome.rows))
    demo.say(f"anomaly ratio: {outcome.anomalies}/{len(outcome.verdicts)} = {outcome.ratio:.1%}")
    demo.say(anomaly.quality_line(outcome.rows))


# ------------------------------------------------------------------------- edge, tweets, retraining
def step_edge_camera(demo: Demo) -> None:
    from visionpipe.demo import edge

    folder = demo.work / "edge"
    folder.mkdir(exist_ok=True)
    video = edge.write_footage(folder / "faces.avi", demo.args.edge_seconds)
    demo.say(f"footage: {video} ({demo.args.edge_seconds} s at {edge.FPS} fps: astronaut, coffee, chelsea)")
    bucket = demo.outputs["DetectionsBucketName"]
    run = demo.edge = edge.run_device(demo.stack, bucket, video, DEVICE_NAME, demo.args.edge_interval)
    demo.say(
        f"device {run.device_id} (cascade detector): {run.frames} frames at {run.fps:.1f} fps, "
        f"{run.frames_with_detections} with a face, {run.uploaded} detections uploaded "
        f"(one per {demo.args.edge_interval:g} s) to {bucket}"
    )
    demo.say(f"objects written per prefix: {run.count_line()}")
    if run.first_record:
        first = run.first_record["objects"][0]
        box = first["box"]
        demo.say(
            f"first record {run.record_keys[0]}: {first['object']} {first['confidence']:.2f} at "
            f"({box['xmin']},{box['ymin']})-({box['xmax']},{box['ymax']}) in "
            f"{run.first_record['frame']['width']}x{run.first_record['frame']['height']}"
        )


def step_tweets(demo: Demo) -> None:
    from visionpipe.demo import tweets

    if not demo.edge or not demo.edge.record_keys:
        demo.say("skipped: the edge camera wrote no record")
        return
    result = demo.tweets = tweets.collect_tweets(
        demo.stack, demo.edge.bucket, demo.edge.device_id, demo.edge.record_keys, demo.args.timeout
    )
    demo.say(
        f"{result.records} records -> {len(result.dry_run)} dry-run tweet(s) in outbox/dry-run/, "
        f"{result.suppressed} suppressed by the cooldown ({result.cooldown_seconds} s per device)"
        + (f"; outcomes {dict(result.statuses)}" if set(result.statuses) - {"DRY_RUN", "SUPPRESSED"} else "")
    )
    if result.dry_run:
        demo.say(f"tweet text: {result.dry_run[0].get('text')!r}")
        demo.say(f"           ({result.dry_run[0]['key']})")


def step_review(demo: Demo) -> None:
    from visionpipe.demo import curation, retraining

    if not demo.edge or not demo.edge.annotation_keys:
        demo.say("skipped: the edge camera wrote no training annotation")
        return
    demo.base_dataset = retraining.upload_base_dataset(demo.stack, demo.outputs, demo.work / "base-dataset")
    demo.say(
        f"base dataset for retraining (real faces, labelled by the device's cascade): "
        f"{'; '.join(demo.base_dataset.lines()[-2:])}"
    )
    demo.inbox = retraining.subscribe_inbox(demo.stack, demo.outputs)
    result = demo.review = curation.review(
        demo.stack, demo.outputs, demo.edge.annotation_keys, demo.work / "review.html", demo.args.timeout
    )
    demo.say(
        f"candidates from training_annotation/: {len(result.pending)} pending, "
        f"{len(result.rejected)} rejected"
        + "".join(f"\n  rejected {c.candidate_id}: {c.reason}" for c in result.rejected)
    )
    if result.sheet:
        demo.say(f"review sheet: {result.sheet} ({len(result.pending)} candidates with their boxes)")
    decision = result.decision
    demo.say(
        f"approved {len(result.approved)} (RetrainThreshold {result.threshold}): "
        + (
            f"started round {decision.round}: {decision.execution_arn}"
            if decision and decision.started
            else ""
        )
        + (decision.reason if decision and not decision.started else "")
    )


def step_retraining(demo: Demo) -> None:
    from visionpipe.demo import retraining

    decision = demo.review.decision if demo.review else None
    if not decision or not decision.started:
        demo.say("skipped: no retraining round was started")
        return
    started = time.perf_counter()
    r = demo.round = retraining.wait_for_round(
        demo.stack, decision.execution_arn, demo.inbox, demo.args.timeout
    )
    demo.say(
        f"execution {r.execution_arn.rsplit(':', 1)[-1]}: {r.status} in {time.perf_counter() - started:.1f} s"
    )
    demo.say(f"states: {' > '.join(r.states)}")
    demo.say(
        f"training job {r.training_job}: {r.training_status} ({r.training_seconds} s), "
        f"{r.train_images} train / {r.validation_images} validation images ({r.new_candidates} new); "
        f"validation:mAP {_figure(r.validation_map)}"
    )
    kept_or_adopted = (
        f"adopted: model package {r.model_package} (PendingManualApproval), "
        f"component {r.component_name} {r.component_version} ({r.component_state})"
        if r.outcome == "adopted"
        else r.outcome
    )
    demo.say(f"outcome: {kept_or_adopted} (compared with the current model: {r.compared_with})")
    demo.say(f"notification: {r.notification_subject!r}")


def step_rollout(demo: Demo) -> None:
    """The camera, started against the local stack as a core of the rollout target, runs what the
    target's Greengrass deployment names: after an adopted round, the retrained model."""
    from visionpipe.core import LocalCore
    from visionpipe.demo import edge

    r = demo.round
    if not r or r.outcome != "adopted":
        demo.say("skipped: no model was adopted")
        return
    target = demo.stack.functions["PublishModelComponentFunction"].variables.get("ROLLOUT_TARGET_ARN", "")
    if not target:
        demo.say("skipped: no RolloutTargetArn (manual rollout: the notification carries the command)")
        return
    core = LocalCore(
        demo.stack.client("greengrassv2"), demo.stack.client("s3"), target, demo.work / "greengrass"
    )
    run = demo.rollout = edge.run_device(
        demo.stack, demo.edge.bucket, demo.edge.video, DEVICE_NAME + "-after", demo.args.edge_interval, core
    )
    demo.say(f"deployment {core.deployment_id} to {target}: installed {core.installs}")
    before = demo.edge.models[0] if demo.edge.models else {}
    after = run.models[-1] if run.models else {}
    demo.say(f"before: {before}")
    demo.say(
        f"after:  {after} ({len(run.record_keys)} records, {run.frames_with_detections}/{run.frames} frames)"
    )


def step_stack_report(demo: Demo) -> None:
    from visionpipe.demo import stack_report

    result = demo.stack_report = stack_report.run(
        demo.stack, demo.outputs, demo.work / "stack-report", stack_report.expected_from(demo)
    )
    demo.say(f"visionpipe report: {result.headline()}")
    demo.say(f"page: {result.page} (charts in {result.page.parent / 'charts'}, CSV extracts beside it)")


def step_report(demo: Demo) -> None:
    from visionpipe.demo import curation, report

    if demo.review:  # approved, claimed and trained since the review: show them as they are now
        curation.refresh(demo.stack, demo.outputs, demo.review)

    sections = [
        report.summary_section(flows(demo), demo.say.timings),
        report.anomaly_section(
            demo.anomaly.rows if demo.anomaly else [],
            demo.anomaly.ratio if demo.anomaly else 0.0,
            demo.stack.client("s3"),
            demo.stack.pseudo.stack_name,
            demo.outputs["ResultsTableName"],
            demo.outputs["ResultsBucketName"],
        ),
        report.edge_section(demo.edge),
        report.tweets_section(demo.tweets),
        report.review_section(demo.review, demo.work),
        report.retraining_section(demo.round, demo.base_dataset),
        report.rollout_section(demo.edge, demo.rollout),
        report.stack_report_section(demo.stack_report, demo.work),
    ]
    demo.report = report.write_report(demo.work / "report.html", sections)
    demo.say(f"report: {demo.report}")


FLOW_STEPS: list[tuple[str, Callable[[Demo], None]]] = [
    ("4. uploads", step_uploads),
    ("5. waiting for the flows", step_wait_for_verdicts),
    ("6. verdicts", step_verdicts),
    ("7. edge camera", step_edge_camera),
    ("8. tweets", step_tweets),
    ("9. curation and review", step_review),
    ("10. retraining", step_retraining),
    ("11. rollout", step_rollout),
    ("12. what the stack saw", step_stack_report),
    ("13. report", step_report),
]


# ------------------------------------------------------------------------------------ outcome
def flows(demo: Demo) -> list[Flow]:
    """Each flow's headline and problems (a flow that did not run says why)."""

    def problems(result, title: str, step_titles: tuple[str, ...]) -> list[str]:
        crashed = [f"{step} raised {demo.errors[step]}" for step in step_titles if step in demo.errors]
        if result is None:
            return crashed or [f"{title} did not run (an earlier flow failed)"]
        return crashed + result.problems()

    a, e, t, v, r, s = demo.anomaly, demo.edge, demo.tweets, demo.review, demo.round, demo.stack_report
    return [
        Flow(
            "anomaly (images, video)",
            f"{a.settled}/{len(a.uploads)} uploads accounted for, anomaly ratio {a.ratio:.1%}" if a else "",
            problems(a, "the anomaly flow", ("4. uploads", "5. waiting for the flows", "6. verdicts")),
        ),
        Flow(
            "edge camera",
            f"{e.uploaded} detections, {e.objects_written} objects ({e.count_line()})" if e else "",
            problems(e, "the edge camera", ("7. edge camera",)),
        ),
        Flow(
            "tweets",
            f"{len(t.dry_run)} dry-run tweet(s), {t.suppressed} suppressed by the cooldown" if t else "",
            problems(t, "the tweet flow", ("8. tweets",)),
        ),
        Flow(
            "curation and review",
            f"{len(v.pending)} pending -> {len(v.approved)} approved, sheet {v.sheet}" if v else "",
            problems(v, "curation and review", ("9. curation and review",)),
        ),
        Flow(
            "retraining",
            f"validation:mAP {_figure(r.validation_map)}, {r.outcome}"
            + (f", component version {r.component_version}" if r.component_version else "")
            if r
            else "",
            problems(r, "retraining", ("10. retraining",)),
        ),
        Flow(
            "rollout",
            f"the camera runs {demo.rollout.models[-1]}" if demo.rollout and demo.rollout.models else "",
            rollout_problems(demo),
        ),
        Flow(
            "visionpipe report",
            s.headline() if s else "",
            problems(s, "visionpipe report", ("12. what the stack saw",)),
        ),
    ]


def rollout_problems(demo: Demo) -> list[str]:
    """The camera after the rollout must name the adopted component version and the trained detector."""
    if "11. rollout" in demo.errors:
        return [f"11. rollout raised {demo.errors['11. rollout']}"]
    r, run = demo.round, demo.rollout
    if r is None:
        return ["the rollout did not run (an earlier flow failed)"]
    if r.outcome != "adopted":
        return []  # a kept model is not rolled out
    if run is None:
        return ["the camera was not started against the rollout target"]
    problems = run.problems()
    if not run.models:
        return problems
    model = run.models[-1]
    if model.get("version") != r.component_version:
        problems.append(
            f"the camera's records name version {model.get('version')}, not {r.component_version}"
        )
    variables = demo.stack.functions["BuildRetrainingDatasetFunction"].variables
    algorithm = variables.get("DETECTOR_ALGORITHM", "ssd")
    expected = {"hog": "hog", "ssd": "dnn"}.get(algorithm, algorithm)
    if model.get("detector") != expected:
        problems.append(f"the camera runs detector {model.get('detector')!r}, not the trained {algorithm}")
    return problems


def step_summary(demo: Demo) -> int:
    say = demo.say
    say.heading("summary")
    outcome = flows(demo)
    if "13. report" in demo.errors:
        outcome.append(Flow("report", "", [f"13. report raised {demo.errors['13. report']}"]))
    width = max(len(f.name) for f in outcome)
    for flow in outcome:
        say(f"  {flow.name:<{width}}  {'OK    ' if flow.ok else 'FAILED'}  {flow.headline}")
    say("time per step:")
    say(say.timing_table())
    results = {"anomaly": demo.anomaly, "edge": demo.edge, "tweets": demo.tweets}
    results.update(review=demo.review, retraining=demo.round, rollout=demo.rollout)
    results["stack_report"] = demo.stack_report.summary() if demo.stack_report else None
    summary = write_summary(demo.work / "summary.json", outcome, say.timings, results)
    say(f"done in {time.perf_counter() - demo.started:.1f} s; report {demo.report}; summary {summary}")
    failed = [f for f in outcome if not f.ok]
    if not failed:
        return 0
    say("\nNOT every flow did what it should:")
    for flow in failed:
        for problem in flow.problems:
            say(f"  {flow.name}: {problem}")
    say(f"handler logs: {demo.log_file}")
    return 1


def _figure(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"


def guarded(demo: Demo, title: str, step: Callable[[Demo], None]) -> None:
    """Run a step; an exception fails its flow (with the reason) and the demo goes on."""
    try:
        step(demo)
    except Exception as exc:
        demo.errors[title] = f"{type(exc).__name__}: {exc}"
        logging.getLogger("visionpipe.demo").error("%s failed:\n%s", title, traceback.format_exc())
        demo.say(f"   error: {demo.errors[title]} (traceback in {demo.log_file})")


@contextlib.contextmanager
def handler_logs(log_file: Path) -> Iterator[None]:
    """Handler output (stdout) and visionpipe/edge/moto logs go to the log file, not the screen."""
    with log_file.open("w") as log_stream, contextlib.redirect_stdout(log_stream):
        handler = logging.StreamHandler(log_stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        loggers = [logging.getLogger(name) for name in ("visionpipe", "visionpipe_edge", "moto")]
        for logger in loggers:
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
        try:
            yield
        finally:
            for logger in loggers:
                logger.removeHandler(handler)
                logger.propagate = True
