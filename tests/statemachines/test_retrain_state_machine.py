"""statemachines/retrain.asl.json, deployed from template.yaml on an OfflineStack, run by moto's ASL
interpreter end to end: camera uploads -> curator -> execution -> dataset, training (outcome hook),
register, publish, notify."""

import json
import re

import pytest
from support.images import jpeg_bytes
from support.retraining_rounds import RetrainingRounds
from support.training_data import annotation_bytes, write_labelled_image

from visionpipe.dataset.convert import convert_folder
from visionpipe.dataset.split import split_dataset
from visionpipe.dataset.upload import upload_channels
from visionpipe.detector_model.contract import METRIC_REGEX
from visionpipe.template import REPO_ROOT, load_template
from visionpipe_common.retraining.dataset import DEFAULT_HYPERPARAMETERS
from visionpipe_common.retraining.rounds import RetrainingRounds as Rounds

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("retraining_rounds")]
COMPONENT = "com.visionpipe.DetectorModel"


def test_definition_placeholders_are_exactly_the_template_substitutions():
    text = (REPO_ROOT / "statemachines" / "retrain.asl.json").read_text()
    machine = load_template()["Resources"]["RetrainStateMachine"]["Properties"]
    assert set(re.findall(r"\$\{(\w+)\}", text)) == set(machine["DefinitionSubstitutions"])
    training = json.loads(text)["States"]["StartTraining"]
    assert training["Resource"] == "${CreateTrainingJobResource}"
    # script mode; the metric SageMaker captures is the line the scripts print
    assert training["Parameters"]["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "validation:mAP", "Regex": METRIC_REGEX}
    ]
    assert training["Parameters"]["InputDataConfig.$"] == "$.build.result.input_data_config"
    # the original's best run, where its names mean the same for SSDlite
    hyper = DEFAULT_HYPERPARAMETERS["ssd"]
    assert (hyper["epochs"], hyper["mini_batch_size"], hyper["learning_rate"], hyper["momentum"]) == (
        "60",
        "10",
        "0.004",
        "0.9",
    )


@pytest.fixture
def stack(tmp_path):
    with RetrainingRounds(threshold=3) as stack:
        upload_base_dataset(stack, tmp_path)
        yield stack


def upload_base_dataset(stack, tmp_path) -> None:
    """A real base dataset made by the dataset tools: 8 labelled images, 2 classes."""
    src = tmp_path / "labelled"
    src.mkdir()
    for i in range(8):
        objects = [("thumbs-up", 4, 4, 30, 30)] + ([("peace", 32, 8, 60, 40)] if i % 2 else [])
        write_labelled_image(src, f"base{i}.JPG", (64, 48), objects, seed=i)
    convert_folder(src, tmp_path / "converted")
    split_dataset(tmp_path / "converted", tmp_path / "channels", validation_fraction=0.25)
    upload_channels(stack.s3, tmp_path / "channels", stack.model_bucket, "datasets/base/")


def approve_candidates(stack, count: int) -> list[str]:
    """The camera uploads `count` annotated frames; the curator approves each (RetrainAutoApprove)."""
    names = [f"raw_office-cam-1_20261121-0831{i:02d}" for i in range(count)]
    for i, name in enumerate(names):
        annotation = annotation_bytes(f"{name}.jpg", 64, 48, [(0, 5, 6, 20, 22)], {0: "thumbs-up"})
        stack.upload_detection(name, jpeg_bytes(64, 48, seed=100 + i), annotation)
    return names


def statuses(stack) -> dict[str, str]:
    return {
        c.candidate_id: c.status
        for s in ("pending", "approved", "training", "trained")
        for c in stack.candidates(s)
    }


def test_better_model_is_registered_published_and_announced(stack, caplog):
    stack.training.validation_map = 0.71
    names = approve_candidates(stack, 3)  # the third approval reaches the threshold and starts round 1
    execution = stack.wait_for_execution()
    assert execution["name"] == "retrain-round-00001"
    assert execution["status"] == "SUCCEEDED", execution
    # the first model: no current one, found without reading a missing path (no ERROR in the round)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []

    entered = stack.states_entered(execution["executionArn"])
    assert "NoCurrentModel" in entered and "ReadCurrentMetric" not in entered
    assert entered[-3:] == ["FinishAdopted", "NotifyAdopted", "Adopted"]
    assert "RegisterModel" in entered and "PublishModelComponent" in entered

    ((job_name, hyperparameters, input_data_config),) = stack.training.jobs
    assert hyperparameters == {
        **DEFAULT_HYPERPARAMETERS["hog"],  # samconfig's local environment: DetectorAlgorithm=hog
        "num_classes": "2",
        "num_training_samples": hyperparameters["num_training_samples"],
        "sagemaker_program": "train_hog.py",
        "sagemaker_submit_directory": f"s3://{stack.model_bucket}/training/source/sourcedir.tar.gz",
    }
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in input_data_config}
    assert channels == {
        c: f"s3://{stack.model_bucket}/datasets/rounds/round-00001/{c}/"
        for c in ("train", "validation", "train_annotation", "validation_annotation")
    }
    rounds_prefix = stack.s3.list_objects_v2(Bucket=stack.model_bucket, Prefix="datasets/rounds/")
    keys = [o["Key"] for o in rounds_prefix["Contents"]]
    train_images = [k for k in keys if "/train/" in k]
    assert int(hyperparameters["num_training_samples"]) == len(train_images)
    assert len([k for k in keys if re.search(r"/(train|validation)/", k)]) == 8 + 3  # base + candidates

    packages = stack.sagemaker.list_model_packages(ModelPackageGroupName=stack.model_package_group)
    (package,) = packages["ModelPackageSummaryList"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    described = stack.sagemaker.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert described["CustomerMetadataProperties"]["validation_mAP"] == "0.71"
    artifact = described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    job = stack.sagemaker.describe_training_job(TrainingJobName=job_name)
    assert artifact == job["ModelArtifacts"]["S3ModelArtifacts"]

    (recipe,) = stack.recipes()
    assert (recipe["ComponentName"], recipe["ComponentVersion"]) == (COMPONENT, "1.0.1")
    assert recipe["Manifests"][0]["Artifacts"][0]["Uri"] == artifact
    assert recipe["ComponentConfiguration"]["DefaultConfiguration"]["Model"]["classes"] == [
        "thumbs-up",
        "peace",
    ]

    current = stack.table.get_item(Key={"pk": "model#current"})["Item"]
    assert (float(current["validation_map"]), current["component_version"]) == (0.71, "1.0.1")
    assert statuses(stack) == dict.fromkeys(names, "trained")
    rounds = Rounds(stack.table, stack.sfn, stack.state_machine_arn, 3).state()
    assert (rounds.running, rounds.next_round, rounds.approved) == (None, 2, 0)
    assert rounds.last_result["outcome"] == "adopted"

    (note,) = stack.notifications()
    assert note["Subject"] == "visionpipe retraining round 1: new model adopted"
    assert "validation mAP 0.71 beats the current model (none (first model))" in note["Message"]
    assert f"{len(train_images)} training" in note["Message"]


def test_model_that_is_not_better_keeps_the_current_one(stack):
    stack.table.put_item(
        Item={
            "pk": "model#current",
            "validation_map": json.loads("0.8", parse_float=__import__("decimal").Decimal),
            "component_version": "1.0.7",
        }
    )
    stack.training.validation_map = 0.64
    names = approve_candidates(stack, 3)
    execution = stack.wait_for_execution()
    assert execution["name"] == "retrain-round-00001"
    assert execution["status"] == "SUCCEEDED", execution
    entered = stack.states_entered(execution["executionArn"])
    assert "ReadCurrentMetric" in entered and "NoCurrentModel" not in entered
    assert entered[-3:] == ["KeepCurrentModel", "NotifyKept", "Kept"]
    assert (
        stack.sagemaker.list_model_packages(ModelPackageGroupName=stack.model_package_group)[
            "ModelPackageSummaryList"
        ]
        == []
    )
    assert stack.recipes() == []
    assert stack.table.get_item(Key={"pk": "model#current"})["Item"]["component_version"] == "1.0.7"
    assert statuses(stack) == dict.fromkeys(names, "trained")
    (note,) = stack.notifications()
    assert "validation mAP 0.64 does not beat the current model (0.8)" in note["Message"]


def test_failed_training_returns_candidates_to_pending_and_notifies(stack):
    stack.training.status = "Failed"
    stack.training.failure_reason = "AlgorithmError: CUDA out of memory"
    names = approve_candidates(stack, 3)
    execution = stack.wait_for_execution()
    assert execution["name"] == "retrain-round-00001"
    assert execution["status"] == "FAILED"
    assert execution["error"] == "RetrainingFailed"
    assert stack.states_entered(execution["executionArn"])[-4:] == [
        "ReadFailureReason",
        "ReleaseCandidates",
        "NotifyFailure",
        "Failed",
    ]
    assert statuses(stack) == dict.fromkeys(names, "pending")
    assert all("failed training round 1" in c.reason for c in stack.candidates("pending"))
    assert stack.recipes() == [] and "Item" not in stack.table.get_item(Key={"pk": "model#current"})
    rounds = Rounds(stack.table, stack.sfn, stack.state_machine_arn, 3).state()
    assert (
        rounds.running is None
        and rounds.last_result["error"]["Cause"] == "AlgorithmError: CUDA out of memory"
    )
    (note,) = stack.notifications()
    assert note["Subject"] == "visionpipe retraining round 1: FAILED"
    assert "SageMaker.TrainingJobFailed: AlgorithmError: CUDA out of memory" in note["Message"]


def test_empty_dataset_fails_before_training_and_releases():
    with RetrainingRounds(threshold=1) as stack:
        # no base dataset and a single candidate: validation would be empty -> the build step fails
        approve_candidates(stack, 1)
        execution = stack.wait_for_execution()
        assert execution["status"] == "FAILED"
        assert "BuildDataset" in stack.states_entered(execution["executionArn"])
        assert "StartTraining" not in stack.states_entered(execution["executionArn"])
        (note,) = stack.notifications()
        assert "both channels need at least one" in note["Message"]
        assert list(statuses(stack).values()) == ["pending"]
        assert stack.sagemaker.list_training_jobs()["TrainingJobSummaries"] == []
        assert stack.training.jobs == []
