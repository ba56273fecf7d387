"""The pieces of `visionpipe demo` (tools/visionpipe/commands/demo.py runs them in order).

console: the printer with per-step timings; anomaly: uploads and verdicts of the image/video flow;
edge: the device loop on face footage against the detections bucket; tweets: the dry-run outbox and
cooldown outcomes; curation: candidates, the review sheet and approvals; retraining: the base
dataset and the round's outcome; stack_report: `visionpipe report` over the stack's data, checked
against what the demo did; report: .demo/report.html.
"""
