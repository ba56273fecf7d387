"""`visionpipe review`: look at retraining candidates and approve or reject them (replaces the notebook).

    visionpipe review sheet --out review.html [--status pending|approved|rejected|...|all]
    visionpipe review decide --approve ID [ID ...] --reject ID [ID ...] [--reason TEXT]
    visionpipe review decide --decisions decisions.json    (the file the sheet's button saves)
    visionpipe review list [--status pending]

Resources come from flags, from a stack-outputs JSON file (--outputs, e.g. `visionpipe local
outputs > outputs.json`; keys CandidatesTableName, RetrainStateMachineArn, RetrainThreshold and, for
the local stack, EndpointUrl), from a deployed stack (--stack-name) or from
VISIONPIPE_CANDIDATES_TABLE, VISIONPIPE_RETRAIN_STATE_MACHINE_ARN, VISIONPIPE_RETRAIN_THRESHOLD.
Approving runs the same start-once threshold check as the curator, so the approval that reaches the
threshold starts the round.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from visionpipe.stack_outputs import Stack, UserError, add_stack_options, resolve
from visionpipe_common.retraining.candidates import STATUSES, Candidate, CandidateStore
from visionpipe_common.retraining.rounds import RetrainingRounds

COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        help="review retraining candidates: HTML contact sheet, approve/reject",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(sub):
        add_stack_options(sub)
        sub.add_argument("--table", help="candidates table (default: the CandidatesTableName output)")
        sub.add_argument(
            "--state-machine-arn",
            help="retraining state machine, started when approvals reach the threshold "
            "(default: the RetrainStateMachineArn output)",
        )
        sub.add_argument(
            "--threshold",
            type=int,
            help="approvals that start a round (default: the RetrainThreshold output)",
        )

    sheet = actions.add_parser(
        "sheet",
        help="write an HTML contact sheet of candidates with their boxes",
        description="One card per candidate: the raw image with its boxes, status, reason and "
        "annotation, plus approve/reject buttons whose choices the sheet saves as decisions.json.",
    )
    common(sheet)
    sheet.add_argument("--out", type=Path, required=True, help="HTML file to write")
    sheet.add_argument(
        "--status", default="pending", choices=[*STATUSES, "all"], help="which candidates (default pending)"
    )
    sheet.add_argument("--limit", type=int, default=500, help="at most this many cards (default 500)")
    sheet.set_defaults(func=run_sheet)

    decide = actions.add_parser(
        "decide",
        help="approve / reject candidates",
        description="Approve or reject candidates by id or from the sheet's decisions.json; the "
        "approval that reaches the threshold starts a retraining round.",
    )
    common(decide)
    decide.add_argument("--approve", nargs="+", default=[], metavar="ID", help="candidate ids to approve")
    decide.add_argument("--reject", nargs="+", default=[], metavar="ID", help="candidate ids to reject")
    decide.add_argument("--reason", default="rejected in review", help="reason stored with --reject")
    decide.add_argument(
        "--decisions", type=Path, help='JSON {"approve": [ids], "reject": {id: reason} or [ids]}'
    )
    decide.add_argument("--by", default=os.environ.get("USER", "reviewer"), help="who decided (stored)")
    decide.set_defaults(func=run_decide)

    listing = actions.add_parser("list", help="print candidates", description="One candidate per line.")
    common(listing)
    listing.add_argument(
        "--status", default="pending", choices=[*STATUSES, "all"], help="which candidates (default pending)"
    )
    listing.set_defaults(func=run_list)


# ---------------------------------------------------------------------------------------------- wiring
def _settings(args, stack: Stack) -> dict:
    threshold = stack.get("RetrainThreshold", args.threshold, "VISIONPIPE_RETRAIN_THRESHOLD")
    return {
        "table": stack.require(
            "CandidatesTableName", args.table, "VISIONPIPE_CANDIDATES_TABLE", option="--table"
        ),
        "state_machine_arn": stack.get(
            "RetrainStateMachineArn", args.state_machine_arn, "VISIONPIPE_RETRAIN_STATE_MACHINE_ARN"
        ),
        "threshold": int(threshold or 0),
    }


def _store(args) -> tuple[CandidateStore, dict, Stack]:
    stack = resolve(args)
    settings = _settings(args, stack)
    table = stack.resource("dynamodb").Table(settings["table"])
    table.load()  # a missing table or credentials fail here, with one message (cli.py)
    return CandidateStore(table), settings, stack


def _candidates(store: CandidateStore, status: str) -> list[Candidate]:
    statuses = STATUSES if status == "all" else (status,)
    return [c for s in statuses for c in store.with_status(s)]


# ---------------------------------------------------------------------------------------------- sheet
def draw_boxes(image_bytes: bytes, candidate: Candidate, max_width: int = 480) -> bytes:
    """The raw image with the annotation's boxes and class names drawn on it, as a JPEG."""
    image = Image.open(io.BytesIO(image_bytes)).convert("RGB")
    document = candidate.annotation_document() or {}
    names = {c["class_id"]: c["name"] for c in document.get("categories", [])}
    draw = ImageDraw.Draw(image)
    for box in document.get("annotations", []):
        colour = COLOURS[box["class_id"] % len(COLOURS)]
        left, top = box["left"], box["top"]
        draw.rectangle([left, top, left + box["width"], top + box["height"]], outline=colour, width=3)
        draw.text((left + 3, top + 2), names.get(box["class_id"], str(box["class_id"])), fill=colour)
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def render_sheet(candidates: list[Candidate], images: dict[str, bytes | None]) -> str:
    cards = []
    for c in candidates:
        data = images.get(c.candidate_id)
        picture = (
            f'<img alt="{html.escape(c.candidate_id)}" src="data:image/jpeg;base64,'
            f'{base64.b64encode(data).decode()}">'
            if data
            else '<div class="missing">no image</div>'
        )
        annotation = json.dumps(c.annotation_document(), indent=1) if c.annotation else ""
        cid = html.escape(c.candidate_id)
        cards.append(f"""
<div class="card {c.status}" data-id="{cid}">
  {picture}
  <h3>{cid}</h3>
  <p><b>{c.status}</b> · {c.boxes} box(es) · {html.escape(", ".join(c.classes))} · {html.escape(c.device_id)}
     {html.escape(c.captured_at)}</p>
  {f'<p class="reason">{html.escape(c.reason)}</p>' if c.reason else ""}
  <details><summary>annotation</summary><pre>{html.escape(annotation)}</pre></details>
  <label><input type="radio" name="{cid}" value="approve"> approve</label>
  <label><input type="radio" name="{cid}" value="reject"> reject</label>
  <label><input type="radio" name="{cid}" value="" checked> undecided</label>
  <input type="text" class="reason" name="{cid}" placeholder="reason (when rejecting)">
</div>""")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>visionpipe review: {len(candidates)} candidate(s)</title>
<style>
body {{ font-family: sans-serif; margin: 1em; }} .grid {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.card {{ border: 1px solid #ccc; padding: 8px; width: 490px; }} .card img {{ max-width: 480px; }}
.rejected {{ background: #fff0f0; }} .approved {{ background: #f0fff0; }} .reason {{ color: #a00; }}
pre {{ font-size: 11px; white-space: pre-wrap; }}
</style></head><body>
<h1>{len(candidates)} retraining candidate(s)</h1>
<p>Choose approve / reject, then <button onclick="save()">save decisions.json</button> and run
<code>visionpipe review decide --decisions decisions.json</code>.</p>
<div class="grid">{"".join(cards)}</div>
<script>
function save() {{
  const out = {{approve: [], reject: {{}}}};
  document.querySelectorAll('input[type=radio]:checked').forEach(r => {{
    if (r.value === 'approve') out.approve.push(r.name);
    if (r.value === 'reject') {{
      const reason = r.closest('.card').querySelector('input.reason').value.trim();
      out.reject[r.name] = reason || 'rejected in review';
    }}
  }});
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([JSON.stringify(out, null, 1)], {{type: 'application/json'}}));
  a.download = 'decisions.json'; a.click();
}}
</script></body></html>
"""


def run_sheet(args) -> int:
    store, _, stack = _store(args)
    s3 = stack.client("s3")
    candidates = _candidates(store, args.status)[: args.limit]
    images = {}
    for candidate in candidates:
        try:
            body = s3.get_object(Bucket=candidate.bucket, Key=candidate.image_key)["Body"].read()
            images[candidate.candidate_id] = draw_boxes(body, candidate)
        except Exception as exc:  # a missing or broken image still gets its card (and its reason)
            print(f"warning: {candidate.candidate_id}: no image ({exc})", file=sys.stderr)
            images[candidate.candidate_id] = None
    args.out.write_text(render_sheet(candidates, images))
    print(f"{len(candidates)} candidate(s) -> {args.out}")
    return 0


# ---------------------------------------------------------------------------------------------- decide
def read_decisions(path: Path, default_reason: str) -> tuple[list[str], dict[str, str]]:
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise UserError(f"{path} is not JSON ({error}): use the file the review sheet saves") from None
    if not isinstance(document, dict):
        raise UserError(f'{path}: expected {{"approve": [ids], "reject": {{id: reason}}}}')
    reject = document.get("reject", {})
    if isinstance(reject, list):
        reject = dict.fromkeys(reject, default_reason)
    return list(document.get("approve", [])), {k: v or default_reason for k, v in reject.items()}


def run_decide(args) -> int:
    store, settings, stack = _store(args)
    approve, reject = list(args.approve), dict.fromkeys(args.reject, args.reason)
    if args.decisions:
        more_approve, more_reject = read_decisions(args.decisions, args.reason)
        approve += more_approve
        reject.update(more_reject)
    both = set(approve) & set(reject)
    if both:
        print(
            f"visionpipe review decide: error: both approved and rejected: {', '.join(sorted(both))}",
            file=sys.stderr,
        )
        return 2
    failures = 0
    for candidate_id in approve:
        result = store.approve(candidate_id, decided_by=args.by)
        failures += not result.ok
        print(f"approve {candidate_id}: {'ok' if result.ok else result.message}")
    for candidate_id, reason in reject.items():
        result = store.reject(candidate_id, reason, decided_by=args.by)
        failures += not result.ok
        print(f"reject  {candidate_id}: {'ok' if result.ok else result.message}")
    if approve and settings["state_machine_arn"] and settings["threshold"]:
        sfn = stack.client("stepfunctions")
        rounds = RetrainingRounds(store.table, sfn, settings["state_machine_arn"], settings["threshold"])
        decision = rounds.maybe_start(trigger=f"visionpipe review ({args.by})")
        print(
            f"approved since the last round: {decision.approved}/{decision.threshold}"
            + (
                f"; started round {decision.round}: {decision.execution_arn}"
                if decision.started
                else f" ({decision.reason})"
            )
        )
    return 1 if failures else 0


def run_list(args) -> int:
    store, _, _ = _store(args)
    for c in _candidates(store, args.status):
        print(f"{c.candidate_id}\t{c.status}\t{c.boxes} box(es)\t{','.join(c.classes)}\t{c.reason}")
    return 0
