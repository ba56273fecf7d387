import json

import pytest
from support.training_data import labelimg_xml, write_labelled_image

from visionpipe.cli import main
from visionpipe.dataset.convert import DatasetError, convert_folder
from visionpipe_common.retraining.annotations import ClassMap, TrainingAnnotation


@pytest.fixture
def labelled(tmp_path):
    """Three classes, several boxes per image, uppercase .JPG, a .jpeg, a .png, one box past the edge."""
    src = tmp_path / "labelled"
    src.mkdir()
    write_labelled_image(
        src, "IMG_0001.JPG", (120, 80), [("thumbs-up", 10, 10, 50, 60), ("peace", 60, 5, 110, 70)]
    )
    write_labelled_image(src, "img_0002.jpeg", (100, 100), [("thumbs-up", 5, 5, 40, 40)], seed=1)
    # box past the right and bottom edges: clipped to 90x70
    write_labelled_image(
        src, "shot3.png", (90, 70), [("fist", 50, 30, 130, 95), ("peace", 0, 0, 20, 20)], seed=2
    )
    return src


def test_converts_every_image_with_stable_ids_and_clipped_boxes(labelled, tmp_path):
    out = tmp_path / "converted"
    report = convert_folder(labelled, out)

    assert (report.images, report.boxes, report.clipped_boxes) == (3, 5, 1)
    assert report.class_map.items() == [("thumbs-up", 0), ("peace", 1), ("fist", 2)]
    assert dict(report.boxes_per_class) == {"thumbs-up": 2, "peace": 2, "fist": 1}
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "IMG_0001.jpg",
        "img_0002.jpeg",
        "shot3.png",
    ]

    first = json.loads((out / "annotations" / "IMG_0001.json").read_text())
    assert first == {
        "file": "IMG_0001.jpg",
        "image_size": [{"width": 120, "height": 80, "depth": 3}],
        "annotations": [
            {"class_id": 0, "left": 10, "top": 10, "width": 40, "height": 50},
            {"class_id": 1, "left": 60, "top": 5, "width": 50, "height": 65},
        ],
        "categories": [{"class_id": 0, "name": "thumbs-up"}, {"class_id": 1, "name": "peace"}],
    }
    clipped = TrainingAnnotation.from_json((out / "annotations" / "shot3.json").read_text(), "shot3")
    assert clipped.boxes[0].as_dict() == {"class_id": 2, "left": 50, "top": 30, "width": 40, "height": 40}
    assert clipped.problems_against_image(90, 70) == []


def test_existing_class_map_keeps_ids_across_runs(labelled, tmp_path):
    class_map = tmp_path / "classes.json"
    class_map.write_text(ClassMap([(0, "fist"), (1, "thumbs-up")]).to_json())
    report = convert_folder(labelled, tmp_path / "out", class_map_path=class_map)
    assert report.class_map.items() == [("fist", 0), ("thumbs-up", 1), ("peace", 2)]
    again = convert_folder(labelled, tmp_path / "out2", class_map_path=class_map)
    assert again.class_map == report.class_map
    annotation = json.loads((tmp_path / "out2" / "annotations" / "shot3.json").read_text())
    assert [a["class_id"] for a in annotation["annotations"]] == [0, 2]


def test_image_found_by_stem_in_any_case_when_filename_differs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    image, xml = write_labelled_image(src, "Photo.PNG", (40, 30), [("a", 1, 1, 20, 20)])
    xml.write_text(labelimg_xml("photo.jpg", 40, 30, [("a", 1, 1, 20, 20)]))  # labelImg recorded another name
    report = convert_folder(src, tmp_path / "out")
    assert report.images == 1
    assert json.loads((tmp_path / "out" / "annotations" / "Photo.json").read_text())["file"] == "Photo.png"


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<annotation><filename>bad.jpg</filename>", "not well-formed XML"),
        (labelimg_xml("bad.jpg", 40, 30, [("a", 30, 5, 10, 20)]), "empty or inverted box"),
        (labelimg_xml("bad.jpg", 40, 30, [("a", 50, 40, 60, 50)]), "lies outside the 40x30 image"),
        (
            labelimg_xml("bad.jpg", 400, 300, [("a", 1, 1, 10, 10)]),
            "<size> says 400x300 but bad.jpg is 40x30",
        ),
        (labelimg_xml("bad.jpg", 40, 30, [("a", 1, "x", 10, 10)]), "<ymin> is 'x', not a number"),
        (labelimg_xml("missing.jpg", 40, 30, [("a", 1, 1, 10, 10)]), "image 'missing.jpg' not found in"),
    ],
)
def test_malformed_input_names_the_file_and_writes_nothing(tmp_path, xml, message):
    src = tmp_path / "src"
    src.mkdir()
    write_labelled_image(src, "good.jpg", (40, 30), [("a", 1, 1, 20, 20)])
    if "missing.jpg" not in xml:
        write_labelled_image(src, "bad.jpg", (40, 30), [("a", 1, 1, 20, 20)])
    (src / "bad.xml").write_text(xml)
    with pytest.raises(DatasetError) as raised:
        convert_folder(src, tmp_path / "out")
    assert str(src / "bad.xml") in str(raised.value)
    assert message in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_cli_convert_reports_counts_and_fails_cleanly(labelled, tmp_path, capsys):
    assert main(["dataset", "convert", str(labelled), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    assert "images: 3" in printed
    assert "boxes: 5 (1 clipped to the image)" in printed
    (labelled / "broken.xml").write_text("<annotation>")
    assert main(["dataset", "convert", str(labelled), "--out", str(tmp_path / "out2")]) == 2
    assert "broken.xml" in capsys.readouterr().err
