"""Settings from the component configuration (IPC) and the model component's model.json."""

import json

import pytest
from visionpipe_edge.config import EdgeSettings, IpcConfigWatcher, ModelError, model_defaults


def test_camel_case_configuration_with_console_strings():
    settings = EdgeSettings.from_config(
        {
            "deviceName": "office-cam-1",
            "detectionThreshold": "0.7",
            "uploadIntervalSeconds": "5",
            "labels": "thumbs-up",
            "inputWidth": 512,
            "inputHeight": 512,
            "publishToIoTCore": "false",
            "dnnMean": [104, 117, 123],
            "accessControl": {"aws.greengrass.ipc.mqttproxy": {}},
        }
    )
    assert settings.device_id == "office-cam-1"
    assert settings.threshold == 0.7 and settings.upload_interval == 5.0
    assert settings.labels == ("thumbs-up",) and settings.input_size == (512, 512)
    assert settings.publish is False and settings.dnn_mean == (104.0, 117.0, 123.0)


def test_device_name_from_the_names_map_then_the_thing_name(monkeypatch):
    monkeypatch.setenv("AWS_IOT_THING_NAME", "deeplens_HoVip9KQTXiC3UFub47lJA")
    mapped = EdgeSettings.from_config({"deviceNames": {"deeplens_HoVip9KQTXiC3UFub47lJA": "Seattle01"}})
    assert mapped.device_id == "Seattle01"
    assert EdgeSettings.from_config({}).device_id == "deeplens_HoVip9KQTXiC3UFub47lJA"
    assert (
        EdgeSettings.from_config({}).resolved_topic == "visionpipe/deeplens_HoVip9KQTXiC3UFub47lJA/detections"
    )


def test_empty_values_fall_back_to_the_model_metadata(tmp_path):
    (tmp_path / "model.json").write_text(
        json.dumps(
            {
                "name": "ssd-thumbs-up",
                "version": "1.0.3",
                "detector": "dnn",
                "file": "model.onnx",
                "classes": ["thumbs-up"],
                "input": {"width": 512, "height": 512},
                "output_format": "sagemaker",
            }
        )
    )
    (tmp_path / "model.onnx").write_bytes(b"onnx")
    recipe_like = {
        "detector": "",
        "modelFile": "",
        "labels": [],
        "inputWidth": 0,
        "inputHeight": 0,
        "modelName": "",
    }
    settings = EdgeSettings.from_config(recipe_like, **model_defaults(tmp_path))
    assert (settings.detector, settings.model_file, settings.labels) == ("dnn", "model.onnx", ("thumbs-up",))
    assert settings.input_size == (512, 512) and settings.model_version == "1.0.3"
    assert settings.model_dir == str(tmp_path) and settings.output_format == "sagemaker"
    explicit = EdgeSettings.from_config({**recipe_like, "labels": ["hand"]}, **model_defaults(tmp_path))
    assert explicit.labels == ("hand",)


def test_a_model_folder_without_a_usable_model_is_an_error_not_a_fallback(tmp_path):
    assert model_defaults("") == {}  # no model component: the options decide (visionpipe device run)
    with pytest.raises(ModelError, match="has no model.json"):
        model_defaults(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="unreadable"):
        model_defaults(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"detector": "mxnet", "file": "model-symbol.json"}))
    with pytest.raises(ModelError, match="detector 'mxnet' is not one of cascade, dnn, hog"):
        model_defaults(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps({"detector": "hog", "file": "hog_svm.json"}))
    with pytest.raises(ModelError, match="model file 'hog_svm.json' is not in"):
        model_defaults(tmp_path)


def test_the_component_version_is_the_model_version_the_records_carry(tmp_path):
    (tmp_path / "model.json").write_text(
        json.dumps({"detector": "hog", "file": "m.json", "version": "job-7"})
    )
    (tmp_path / "m.json").write_text("{}")
    (tmp_path / "component.json").write_text(
        json.dumps({"component": "com.visionpipe.DetectorModel", "version": "1.0.7"})
    )
    assert model_defaults(tmp_path)["model_version"] == "1.0.7"


def test_the_shipped_model_component_describes_the_cascade(model_dir):
    defaults = model_defaults(model_dir)
    assert defaults["detector"] == "cascade" and defaults["labels"] == ("face",)
    assert (model_dir / defaults["model_file"]).is_file()


@pytest.mark.parametrize(
    "bad",
    [{"detectionThreshold": 1.5}, {"detector": "yolo"}, {"outputFormat": "xml"}, {"uploadQueueSize": 0}],
)
def test_invalid_settings_are_refused(bad):
    with pytest.raises(ValueError):
        EdgeSettings.from_config(bad)


def test_watcher_reads_over_ipc_and_follows_updates(fake_ipc):
    client = fake_ipc({"detectionThreshold": 0.5, "bucket": "b1"})
    seen = []
    watcher = IpcConfigWatcher(client, on_change=seen.append)
    watcher.subscribe()
    assert watcher.settings.bucket == "b1"
    client.update(bucket="b2", uploadIntervalSeconds=30)
    assert watcher.settings.bucket == "b2" and watcher.settings.upload_interval == 30
    assert seen and seen[-1].bucket == "b2"
    watcher.close()
    assert client.closed


def test_the_recipe_defaults_are_valid_settings(model_dir):
    import yaml

    from visionpipe.components import EDGE_DETECTOR_DIR

    recipe = yaml.safe_load((EDGE_DETECTOR_DIR / "recipe.yaml").read_text())
    settings = EdgeSettings.from_config(
        recipe["ComponentConfiguration"]["DefaultConfiguration"], **model_defaults(model_dir)
    )
    assert settings.detector == "cascade" and settings.labels == ("face",)
    assert settings.mjpeg_bind == "127.0.0.1" and settings.topic == "visionpipe/{iot:thingName}/detections"
