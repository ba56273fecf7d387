import boto3
import pytest
from moto import mock_aws
from support.training_data import write_labelled_image

from visionpipe.cli import main
from visionpipe.dataset.convert import convert_folder
from visionpipe.dataset.split import split_dataset
from visionpipe.dataset.upload import upload_channels
from visionpipe_common.retraining.annotations import assign_splits


@pytest.fixture
def converted(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(20):
        suffix = ".JPG" if i % 3 == 0 else ".png" if i % 3 == 1 else ".jpeg"
        objects = [("thumbs-up", 2, 2, 20, 20)] + [("peace", 25, 5, 40, 30)] * (i % 2)
        write_labelled_image(src, f"frame{i:02d}{suffix}", (48, 36), objects, seed=i)
    out = tmp_path / "converted"
    convert_folder(src, out)
    return out


def test_split_is_deterministic_and_stable_when_images_are_added():
    names = [f"img{i}.jpg" for i in range(200)]
    first = assign_splits(names, 0.1)
    assert first == assign_splits(list(reversed(names)), 0.1)
    assert 8 <= list(first.values()).count("validation") <= 35
    grown = assign_splits(names + [f"new{i}.jpg" for i in range(50)], 0.1)
    assert all(grown[name] == side for name, side in first.items())
    assert set(assign_splits(["a.jpg", "b.jpg"], 0.01).values()) == {"train", "validation"}


def test_split_writes_four_channels_with_matching_counts(converted, tmp_path):
    channels = tmp_path / "channels"
    report = split_dataset(converted, channels, validation_fraction=0.25)
    train = sorted(p.stem for p in (channels / "train").iterdir())
    validation = sorted(p.stem for p in (channels / "validation").iterdir())
    assert sorted(p.stem for p in (channels / "train_annotation").iterdir()) == train
    assert sorted(p.stem for p in (channels / "validation_annotation").iterdir()) == validation
    assert len(train) + len(validation) == 20 and not set(train) & set(validation)
    assert report.images == {"train": len(train), "validation": len(validation)}
    assert report.boxes["train"] + report.boxes["validation"] == 30
    assert (channels / "class_map.json").is_file()
    assert split_dataset(converted, tmp_path / "again", validation_fraction=0.25).images == report.images


def test_upload_puts_every_channel_under_the_prefix(converted, tmp_path):
    channels = tmp_path / "channels"
    split = split_dataset(converted, channels, validation_fraction=0.25)
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="models")
        report = upload_channels(s3, channels, "models", "datasets/base")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="models")["Contents"]]
    assert report.objects == {
        "train": split.images["train"],
        "validation": split.images["validation"],
        "train_annotation": split.images["train"],
        "validation_annotation": split.images["validation"],
    }
    assert report.boxes == split.boxes
    assert len(keys) == 41 and "datasets/base/class_map.json" in keys
    assert {k.split("/")[2] for k in keys if k.count("/") == 3} == {
        "train",
        "validation",
        "train_annotation",
        "validation_annotation",
    }


def test_cli_split_and_upload(converted, tmp_path, capsys):
    channels = tmp_path / "channels"
    assert (
        main(["dataset", "split", str(converted), "--out", str(channels), "--validation-fraction", "0.2"])
        == 0
    )
    printed = capsys.readouterr().out
    assert "num_training_samples:" in printed
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="models")
        assert main(["dataset", "upload", str(channels), "--bucket", "models"]) == 0
    printed = capsys.readouterr().out
    assert "uploaded to s3://models/datasets/base/" in printed
    assert "boxes: train" in printed
