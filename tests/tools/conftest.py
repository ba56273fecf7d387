"""A small generated data set and models trained on it, shared by the tools tests (training, evaluate)."""

import pytest

from visionpipe.anomaly_model import train
from visionpipe.sample_data import generate


@pytest.fixture(scope="session")
def small_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("anomaly_set")
    manifest = generate(out, normal=60, anomalous=24, seed=7, video=False)
    return out, manifest


@pytest.fixture(scope="session")
def trained(small_set, tmp_path_factory):
    data, _ = small_set
    model_dir = tmp_path_factory.mktemp("anomaly_model")
    report = train(data / "normal", model_dir, anomalous_dir=data / "anomalous", seed=7)
    return model_dir, report


@pytest.fixture(scope="session")
def patchcore_trained(small_set, tmp_path_factory):
    from visionpipe.anomaly_model.patchcore_training import train_patchcore

    data, _ = small_set
    model_dir = tmp_path_factory.mktemp("patchcore_model")
    report = train_patchcore(data / "normal", model_dir, anomalous_dir=data / "anomalous", seed=7)
    return model_dir, report
