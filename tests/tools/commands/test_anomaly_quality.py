"""visionpipe anomaly-quality: headline figures on visible defects, subtle ones apart, per texture."""

import json

import numpy as np

from visionpipe.anomaly_model import metrics
from visionpipe.cli import main
from visionpipe.commands.evaluate import judge_folder


def test_anomaly_quality_reports_visible_and_subtle_defects_apart(tmp_path, capsys):
    out = tmp_path / "q.json"
    work = tmp_path / "w"
    args = ["--work", str(work), "--textures", "moon", "--train", "16", "--small", "0", "--json", str(out)]
    code = main(["anomaly-quality", *args])
    assert code == 0
    printed = capsys.readouterr().out
    (row,) = json.loads(out.read_text())
    assert row["texture"] == "moon" and row["source"] == "real photograph" and row["train_images"] == 16
    assert row["test_normal"] == 60 and row["test_anomalous"] == 48 and row["test_subtle"] == 12
    assert set(row["recall_by_kind"]) == {"crack", "hole", "scratch", "stain"}
    # The figures are those of the trained model on the held-out images, recomputed independently.
    meta, results, _ = judge_folder(
        tmp_path / "w" / "models" / "patchcore" / "moon-16",
        tmp_path / "w" / "sets" / "moon" / "test",
        40_000_000,
    )
    normal = np.array([r.score for r in results if r.label == "normal"])
    visible = np.array([r.score for r in results if r.label == "anomalous" and r.kind != "subtle"])
    subtle = np.array([r.score for r in results if r.kind == "subtle"])
    assert row["auroc"] == metrics.auroc(normal, visible)
    assert row["subtle_auroc"] == metrics.auroc(normal, subtle)
    assert row["recall"] == np.mean(visible >= meta.threshold)
    assert row["false_positive_rate"] == np.mean(normal >= meta.threshold)
    assert "moon" in printed and "subtle" in printed and "(calibration too small)" in printed
