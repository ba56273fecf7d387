"""`visionpipe report` at the end of the demo: what the local stack's data says the cameras and the
inspection line saw, checked against what the demo itself did (records written, verdicts recorded)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from visionpipe.report.build import ReportOptions, run_report
from visionpipe.report.sources import StackSources, make_window


@dataclass
class StackReport:
    page: Path
    figures: dict[str, Any]
    expected: dict[str, int] = field(default_factory=dict)

    @property
    def detections(self) -> dict[str, Any]:
        return self.figures["detections"]

    @property
    def verdicts(self) -> dict[str, Any]:
        return self.figures["verdicts"]

    def headline(self) -> str:
        d, v = self.detections, self.verdicts
        return (
            f"{d['detections']} detections in {d['records']} records from {len(d['devices'])} device(s), "
            f"{v['processed']} images judged ({v['anomalies']} anomalous), {v['failures']} failures, "
            f"{len(self.figures['retraining']['rounds'])} retraining round(s)"
        )

    def summary(self) -> dict[str, Any]:
        """For summary.json."""
        return {
            "page": str(self.page),
            "headline": self.headline(),
            "expected": self.expected,
            "records": self.detections["records"],
            "detections": self.detections["detections"],
            "devices": self.detections["devices"],
            "verdicts": self.verdicts["processed"],
            "anomalies": self.verdicts["anomalies"],
            "failures": self.verdicts["failures"],
            "rounds": len(self.figures["retraining"]["rounds"]),
            "problems": self.problems(),
        }

    def problems(self) -> list[str]:
        """The report's figures must be what the demo did."""
        found = {
            "records": self.detections["records"],
            "verdicts": self.verdicts["processed"],
            "failures": self.verdicts["failures"],
            "rounds": len(self.figures["retraining"]["rounds"]),
        }
        return [
            f"the report shows {found[name]} {name}, the demo made {want}"
            for name, want in self.expected.items()
            if found.get(name) != want
        ]


def expected_from(demo) -> dict[str, int]:
    """What the demo did, counted from its own results (not from the report)."""
    expected: dict[str, int] = {}
    if demo.edge is not None:
        expected["records"] = len(demo.edge.record_keys)
    if demo.anomaly is not None and demo.anomaly.accounted:
        expected["verdicts"] = len(demo.anomaly.verdicts)
        expected["failures"] = sum(1 for r in demo.anomaly.rows if r["result"] == "failed")
    if demo.round is not None:
        expected["rounds"] = 1
    return expected


def run(stack, outputs: dict[str, Any], out_dir: Path, expected: dict[str, int]) -> StackReport:
    sources = StackSources(
        detections_bucket=outputs.get("DetectionsBucketName"),
        results_table=outputs.get("ResultsTableName"),
        results_bucket=outputs.get("ResultsBucketName"),
        state_machine_arn=outputs.get("RetrainStateMachineArn"),
        endpoint_url=stack.endpoint_url,
        described_as=f"local stack at {stack.endpoint_url}",
        outputs=outputs,
        boto_session=stack.session,
    )
    # The default window (the last 7 days) holds everything this run wrote.
    result = run_report(
        sources, ReportOptions(window=make_window(None, None), workers=4, segments=2), out_dir
    )
    return StackReport(result.page, result.figures, expected)
