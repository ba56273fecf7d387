"""visionpipe evaluate: a model folder against labelled folders, through the product's decode + onnx path."""

import json
import shutil

import pytest
from PIL import Image

from visionpipe.cli import main
from visionpipe.commands.evaluate import roc_points


@pytest.fixture(scope="module")
def labelled(small_set, tmp_path_factory):
    """normal/ and anomalous/ (kind_NNN names) plus one image the decoder must reject."""
    data, _ = small_set
    root = tmp_path_factory.mktemp("labelled")
    for label in ("normal", "anomalous"):
        (root / label).mkdir()
        for path in sorted((data / label).iterdir())[:10]:
            shutil.copy(path, root / label / path.name)
    (root / "normal" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return root


def test_evaluate_prints_the_figures_and_writes_json_and_html(patchcore_trained, labelled, tmp_path, capsys):
    model_dir, _ = patchcore_trained
    out_json, out_html = tmp_path / "eval.json", tmp_path / "eval.html"
    code = main(["evaluate", str(model_dir), str(labelled), "--json", str(out_json), "--html", str(out_html)])
    assert code == 0
    printed = capsys.readouterr().out
    for fragment in ("AUROC", "precision", "recall", "F1", "false-positive rate", "recall by kind", "p50"):
        assert fragment in printed
    assert "rejected" in printed and "broken.png" in printed
    body = json.loads(out_json.read_text())
    summary, images = body["summary"], body["images"]
    assert summary["normal_images"] == 10 and summary["anomalous_images"] == 10
    assert summary["auroc"] >= 0.9
    assert set(summary["recall_by_kind"]) <= {"scratch", "dent", "stain", "crack"}
    flagged = [i for i in images if i["anomalous"]]
    assert flagged and all(i["box"] and i["area_percent"] > 0 for i in flagged)
    for item in flagged:  # the box lies inside the uploaded image
        with Image.open(item["path"]) as image:
            x0, y0, x1, y1 = item["box"]
            assert 0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height
    page = out_html.read_text()
    assert page.count("data:image/png;base64,") >= 21  # ROC curve + one picture per decoded image
    assert "AUROC" in page and "http" not in page.replace("http-equiv", "")  # self-contained


def test_evaluate_a_score_only_model(trained, labelled, tmp_path, capsys):
    """The padim-pca model names no map output: scores and verdicts, no boxes."""
    model_dir, _ = trained
    out_json = tmp_path / "eval.json"
    assert main(["evaluate", str(model_dir), str(labelled), "--json", str(out_json)]) == 0
    images = json.loads(out_json.read_text())["images"]
    judged = [i for i in images if i["score"] is not None]
    assert len(judged) == 20 and all(i["box"] is None and i["area_percent"] is None for i in judged)


def test_evaluate_reports_missing_folders(patchcore_trained, tmp_path, capsys):
    model_dir, _ = patchcore_trained
    assert main(["evaluate", str(model_dir), str(tmp_path)]) == 2
    assert "no normal/ folder" in capsys.readouterr().err


def test_roc_points_run_from_origin_to_corner():
    fpr, tpr = roc_points([0.1, 0.2, 0.3], [0.25, 0.4])
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert list(tpr) == sorted(tpr) and list(fpr) == sorted(fpr)
