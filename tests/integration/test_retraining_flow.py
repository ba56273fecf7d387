"""Retraining end to end on the local stack, on the success path and the not-better path.

Data: camera frames of real photographs with real faces (scikit-image's LFW subset), labelled by
the edge device's own cascade detector and annotation writer (tests/support/face_data.py).
A base dataset goes up with `visionpipe dataset upload`; the camera's annotations land in the
detections bucket and become candidates; `visionpipe review decide` approves them; reaching
the threshold (3 locally) starts one execution of the retrain state machine in moto's ASL
interpreter. Nothing about training is scripted: the local SageMaker engine trains a HOG + SVM
detector from the round's four channels and measures validation:mAP; the local Greengrass engine
records the component version the publish handler creates.

Round 1 (good labels, no current model): adopted -> model package registered in SageMaker, a
component version, model#current, an SNS message with the figures, candidates trained; the
published model.tar.gz runs on the device's `hog` detector.
Round 2 (a camera whose boxes sit beside the faces): the new model measures lower -> kept.
"""

from __future__ import annotations

import json
import uuid

import cv2
import pytest
from support.face_data import camera_frames, write_channels
from visionpipe_edge.config import EdgeSettings
from visionpipe_edge.detectors import build_detector

from visionpipe.cli import main
from visionpipe.core import LocalCore
from visionpipe_common.retraining.annotations import split_of
from visionpipe_common.retraining.candidates import CandidateStore

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("local_stack")]

FACE_SIZES = (50, 150)  # face sizes in the 640x480 frames
VALIDATION_FRACTION = 0.1  # BuildRetrainingDatasetFunction's VALIDATION_FRACTION (template.yaml)


def shifted_beside_the_faces(frame):
    """The same frame, its boxes moved one box width sideways (onto the background)."""
    width = frame.annotation["image_size"][0]["width"]
    for box in frame.annotation["annotations"]:
        box["left"] = (
            box["left"] + box["width"]
            if box["left"] + 2 * box["width"] <= width
            else box["left"] - box["width"]
        )
        box["left"] = max(0, box["left"])
    return frame


class Round:
    def __init__(self, local_stack, tmp_path):
        self.stack = local_stack
        self.outputs = local_stack.outputs
        self.s3 = local_stack.client("s3")
        self.sfn = local_stack.client("stepfunctions")
        self.store = CandidateStore(
            local_stack.resource("dynamodb").Table(self.outputs["CandidatesTableName"])
        )
        self.outputs_file = tmp_path / "outputs.json"
        self.outputs_file.write_text(json.dumps(self.outputs))
        sqs = local_stack.client("sqs")
        self.sqs = sqs
        self.inbox = sqs.create_queue(QueueName=f"retrain-inbox-{uuid.uuid4().hex[:6]}")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=self.inbox, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        local_stack.client("sns").subscribe(
            TopicArn=self.outputs["RetrainNotificationsTopicArn"], Protocol="sqs", Endpoint=inbox_arn
        )

    def camera_uploads(self, frames) -> list[str]:
        bucket = self.outputs["DetectionsBucketName"]
        for frame in frames:  # the camera's order: raw image, then its annotation
            self.s3.put_object(Bucket=bucket, Key=f"raw_images/{frame.name}", Body=frame.jpeg)
            self.s3.put_object(
                Bucket=bucket,
                Key=f"training_annotation/{frame.name.replace('.jpg', '.json')}",
                Body=frame.annotation_json,
            )
        names = {f.name.removesuffix(".jpg") for f in frames}

        def pending():
            found = {c.candidate_id for c in self.store.with_status("pending")} & names
            return found if found == names else None

        assert self.stack.wait_until(pending, timeout=30) == names
        return sorted(names)

    def approve(self, names, capsys) -> dict:
        before = {e["executionArn"] for e in self.executions()}
        argv = [
            "review",
            "decide",
            "--outputs",
            str(self.outputs_file),
            "--endpoint-url",
            self.stack.endpoint_url,
        ]
        assert main([*argv, "--approve", *names]) == 0
        assert "started round" in capsys.readouterr().out
        (execution,) = [e for e in self.executions() if e["executionArn"] not in before]  # exactly one

        def finished():
            described = self.sfn.describe_execution(executionArn=execution["executionArn"])
            return described if described["status"] != "RUNNING" else None

        return self.stack.wait_until(finished, timeout=90)

    def executions(self):
        return self.sfn.list_executions(stateMachineArn=self.outputs["RetrainStateMachineArn"])["executions"]

    def states(self, execution_arn) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]

    def notification(self) -> dict:
        def received():
            return self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=1).get("Messages")

        (message,) = self.stack.wait_until(received, timeout=10)
        self.sqs.delete_message(QueueUrl=self.inbox, ReceiptHandle=message["ReceiptHandle"])
        return json.loads(message["Body"])


def test_local_rounds_train_for_real_adopt_a_better_model_and_keep_it_over_a_worse_one(
    local_stack, tmp_path, capsys
):
    outputs = local_stack.outputs
    model_bucket = outputs["ModelBucketName"]
    rounds = Round(local_stack, tmp_path)
    sagemaker = local_stack.client("sagemaker")
    greengrass = local_stack.client("greengrassv2")

    # people 0-59 for the base training set, 60-79 for validation, 80-99 seen only by the camera
    base = write_channels(
        tmp_path / "base",
        camera_frames(14, range(60), seed=11, prefix="raw_retrain-base", sizes=FACE_SIZES),
        camera_frames(8, range(60, 80), seed=12, prefix="raw_retrain-val", sizes=FACE_SIZES),
    )
    argv = [
        "dataset",
        "upload",
        str(base),
        "--bucket",
        model_bucket,
        "--endpoint-url",
        local_stack.endpoint_url,
    ]
    assert main(argv) == 0
    # the script-mode code every round's training job runs (sagemaker_submit_directory)
    assert (
        main(
            [
                "training",
                "upload-source",
                "--bucket",
                model_bucket,
                "--endpoint-url",
                local_stack.endpoint_url,
            ]
        )
        == 0
    )

    # a camera started against the local stack as a core of the rollout target: nothing deployed yet
    target = "arn:aws:iot:us-east-1:123456789012:thinggroup/visionpipe-local-cameras"  # samconfig [local]
    core = LocalCore(greengrass, local_stack.client("s3"), target, tmp_path / "greengrass")
    shipped = EdgeSettings(detector="cascade", model_name="frontalface-haar", model_version="1.0.0")
    assert core.settings(shipped) is shipped

    # ---------------------------------------------------------------- round 1: good camera labels
    names = rounds.camera_uploads(
        camera_frames(3, range(80, 100), seed=13, prefix="raw_cam-good", sizes=FACE_SIZES)
    )
    described = rounds.approve(names, capsys)
    entered = rounds.states(described["executionArn"])
    assert described["status"] == "SUCCEEDED", entered
    assert entered[:5] == [
        "BuildDataset",
        "StartTraining",
        "DescribeTraining",
        "TrainingFinished?",
        "ReadMetrics",
    ]
    assert entered[-6:] == [
        "RegisterModel",
        "PublishModelComponent",
        "RecordCurrentModel",
        "FinishAdopted",
        "NotifyAdopted",
        "Adopted",
    ]

    current = (
        local_stack.resource("dynamodb")
        .Table(outputs["CandidatesTableName"])
        .get_item(Key={"pk": "model#current"}, ConsistentRead=True)["Item"]
    )
    job = sagemaker.describe_training_job(TrainingJobName=current["training_job"])
    assert job["TrainingJobStatus"] == "Completed"
    (first_map,) = [m["Value"] for m in job["FinalMetricDataList"] if m["MetricName"] == "validation:mAP"]
    assert 0.5 < first_map <= 1.0  # measured on validation frames of people never trained on
    assert float(current["validation_map"]) == pytest.approx(first_map)

    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{model_bucket}/retraining/output/{current['training_job']}/output/model.tar.gz"

    # registered (pending approval) in the Model Registry, with the measured figure
    (package,) = sagemaker.list_model_packages(
        ModelPackageGroupName=f"{local_stack.stack.pseudo.stack_name}-detector"
    )["ModelPackageSummaryList"]
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    described_package = sagemaker.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert float(described_package["CustomerMetadataProperties"]["validation_mAP"]) == pytest.approx(
        first_map
    )

    # the component version the publish handler created, recorded by the local Greengrass engine
    component = greengrass.describe_component(arn=current["component_arn"])
    assert component["componentVersion"] == current["component_version"]
    assert component["status"]["componentState"] == "DEPLOYABLE"  # its artifact exists in the local S3
    recipe = json.loads(greengrass.get_component(arn=current["component_arn"])["recipe"])
    assert recipe["Manifests"][0]["Artifacts"][0]["Uri"] == artifact

    # what a core does with that version: download the artifact, run the recipe's install script;
    # rolled out: the local cameras' thing group's deployment now names the new model version, and
    # the running camera's next settings are the retrained model's (installed as a core installs it)
    (deployment,) = greengrass.list_deployments(targetArn=target)["deployments"]
    deployed = greengrass.get_deployment(deploymentId=deployment["deploymentId"])
    assert deployed["components"]["com.visionpipe.DetectorModel"] == {
        "componentVersion": component["componentVersion"]
    }
    settings = core.settings(shipped)
    assert (
        core.installs == [component["componentVersion"]] and core.deployment_id == deployment["deploymentId"]
    )
    assert (settings.detector, settings.labels, settings.model_version) == (
        "hog",
        ("face",),
        component["componentVersion"],  # the records name the deployed component version
    )
    (probe,) = camera_frames(1, range(80, 100), seed=99, prefix="probe", sizes=FACE_SIZES)
    found = build_detector(settings).detect(cv2.resize(probe.image, settings.input_size), 0.5)
    assert found and found[0].label == "face"

    message = rounds.notification()
    assert "new model adopted" in message["Subject"]
    assert f"validation mAP {first_map} beats the current model (none (first model))" in message["Message"]
    assert "Rollout (auto): aws greengrassv2 create-deployment --cli-input-json" in message["Message"]
    assert {c.candidate_id for c in rounds.store.with_status("trained")} >= set(names)

    # ---------------------------------------------------------------- round 2: a camera with bad boxes
    frames = camera_frames(8, range(80, 100), seed=14, prefix="raw_cam-offbox", sizes=FACE_SIZES)
    bad = [shifted_beside_the_faces(f) for f in frames]
    # the dataset builder splits candidates by a hash of their name: some of these land in validation
    assert any(split_of(f.name, VALIDATION_FRACTION) == "validation" for f in bad)
    names = rounds.camera_uploads(bad)
    described = rounds.approve(names, capsys)
    entered = rounds.states(described["executionArn"])
    assert described["status"] == "SUCCEEDED", entered
    assert "KeepCurrentModel" in entered and "RegisterModel" not in entered
    (second_job,) = [
        j["TrainingJobName"]
        for j in sagemaker.list_training_jobs()["TrainingJobSummaries"]
        if j["TrainingJobName"] != current["training_job"]
    ]
    second = sagemaker.describe_training_job(TrainingJobName=second_job)
    (second_map,) = [m["Value"] for m in second["FinalMetricDataList"] if m["MetricName"] == "validation:mAP"]
    assert second_map < first_map
    kept = (
        local_stack.resource("dynamodb")
        .Table(outputs["CandidatesTableName"])
        .get_item(Key={"pk": "model#current"}, ConsistentRead=True)["Item"]
    )
    assert kept["training_job"] == current["training_job"]
    versions = greengrass.list_component_versions(arn=current["component_arn"].split(":versions:")[0])
    assert len(versions["componentVersions"]) == 1
    message = rounds.notification()
    assert "current model kept" in message["Subject"]
    assert f"validation mAP {second_map} does not beat the current model ({first_map})" in message["Message"]
    assert {c.candidate_id for c in rounds.store.with_status("trained")} >= set(names)
