"""The demo's check of `visionpipe report`: its figures must be what the demo itself did."""

from pathlib import Path
from types import SimpleNamespace

from visionpipe.demo.stack_report import StackReport, expected_from


def figures(records=4, verdicts=27, failures=2, rounds=1):
    return {
        "window": {"since": "2026-11-25T00:00:00.000Z", "until": "2026-12-02T00:00:00.000Z"},
        "detections": {"records": records, "detections": records, "devices": ["demo-cam"]},
        "verdicts": {"processed": verdicts, "anomalies": 10, "failures": failures},
        "retraining": {"rounds": [{"outcome": "adopted"}] * rounds},
    }


def test_expected_counts_come_from_the_demos_own_results():
    rows = [{"result": "normal"}] * 20 + [{"result": "anomaly"}] * 7 + [{"result": "failed"}] * 2
    demo = SimpleNamespace(
        edge=SimpleNamespace(record_keys=["a", "b", "c", "d"]),
        anomaly=SimpleNamespace(accounted=True, rows=rows, verdicts=rows[:27]),
        round=object(),
    )
    assert expected_from(demo) == {"records": 4, "verdicts": 27, "failures": 2, "rounds": 1}
    assert expected_from(SimpleNamespace(edge=None, anomaly=None, round=None)) == {}


def test_a_report_that_misses_what_the_demo_made_is_a_problem():
    expected = {"records": 4, "verdicts": 27, "failures": 2, "rounds": 1}
    assert StackReport(Path("r.html"), figures(), expected).problems() == []
    report = StackReport(Path("r.html"), figures(records=3, rounds=0), expected)
    assert report.problems() == [
        "the report shows 3 records, the demo made 4",
        "the report shows 0 rounds, the demo made 1",
    ]
    summary = report.summary()
    assert summary["records"] == 3 and summary["problems"] == report.problems()
    assert "3 detections in 3 records from 1 device(s), 27 images judged (10 anomalous)" in report.headline()
