"""MediaConvert engine: every CreateJob request checked against the real MediaConvert API model.

botocore's Stubber validates each request (required members, types, minimums) against the
service model shipped with botocore; `assert_matches_model` walks the full Settings document
too and also checks enum values and maximums, which botocore does not validate.
"""

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from visionpipe_common.anomaly.frames import frame_key
from visionpipe_common.errors import RejectedInput
from visionpipe_common.events.s3_events import S3Object
from visionpipe_common.frame_capture.mediaconvert_job import (
    MediaConvertEngine,
    create_job_request,
    framerate_for_interval,
    source_object,
)
from visionpipe_common.frame_capture.settings import CaptureSettings, MediaConvertSettings

ENDPOINT = "https://mediaconvert.us-east-1.amazonaws.com"
ROLE = "arn:aws:iam::123456789012:role/visionpipe-MediaConvertRole-ABC"
QUEUE = "arn:aws:mediaconvert:us-east-1:123456789012:queues/Default"
MEDIACONVERT = MediaConvertSettings(
    endpoint_url=ENDPOINT, role_arn=ROLE, queue_arn=QUEUE, stack_name="visionpipe"
)
VIDEO = S3Object(
    bucket="visionpipe-videos-abc",
    key="video_inputs/line 3/phone clip 01.mp4",
    size=2_335_768,
    etag="9f1c2d3e4b5a69788796a5b4c3d2e1f0",
    version_id="Wq8yZ3rkT0c9lq1b2Z8vXyQm3pLk4NoR",
    sequencer="0062A3C1E4B7D5FA02",
    event_time="2026-11-21T08:30:00.000Z",
)
IMAGE_BUCKET = "visionpipe-images-abc"
DEFAULT_REQUEST = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)


SESSION = botocore.session.get_session()  # loads the MediaConvert model once for the module


def mediaconvert_client():
    return SESSION.create_client("mediaconvert", region_name="us-east-1", endpoint_url=ENDPOINT)


def assert_matches_model(value, shape, path="Settings"):
    """Every key exists in the model, every enum value is allowed, every number within min/max."""
    if shape.type_name == "structure":
        assert isinstance(value, dict), path
        for name in shape.required_members:
            assert name in value, f"{path}.{name} is required"
        for name, member in value.items():
            assert name in shape.members, f"{path}.{name} is not in the MediaConvert model"
            assert_matches_model(member, shape.members[name], f"{path}.{name}")
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            assert_matches_model(item, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            assert_matches_model(item, shape.value, f"{path}[{key!r}]")
    elif shape.type_name == "string":
        assert isinstance(value, str), path
        if shape.enum:
            assert value in shape.enum, f"{path}={value!r} is not one of {shape.enum}"
    elif shape.type_name in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), path
        assert shape.metadata.get("min", value) <= value <= shape.metadata.get("max", value), (
            f"{path}={value}"
        )


def submit(request: dict) -> dict:
    """Send request through a Stubber-wrapped client: the Stubber validates it against the model."""
    client = mediaconvert_client()
    with Stubber(client) as stubber:
        stubber.add_response(
            "create_job", {"Job": {"Id": "1763713860123-ab12cd", "Role": ROLE, "Settings": {}}}, request
        )
        response = client.create_job(**request)
        stubber.assert_no_pending_responses()
    assert_matches_model(
        request, client.meta.service_model.operation_model("CreateJob").input_shape, "CreateJob"
    )
    return response


def frame_group(request):
    (group,) = [g for g in request["Settings"]["OutputGroups"] if g["Name"] == "Frame capture"]
    return group


def test_default_request_is_valid_and_matches_the_original_capture_settings():
    request = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    submit(request)

    (output,) = frame_group(request)["Outputs"]
    video = output["VideoDescription"]
    # The original: FRAME_CAPTURE, 1 frame every 5 s, at most 4 captures, 500x500, quality 80, RAW .jpg.
    assert video["CodecSettings"] == {
        "Codec": "FRAME_CAPTURE",
        "FrameCaptureSettings": {
            "FramerateNumerator": 1,
            "FramerateDenominator": 5,
            "MaxCaptures": 4,
            "Quality": 80,
        },
    }
    assert (video["Width"], video["Height"], video["ScalingBehavior"]) == (500, 500, "DEFAULT")
    assert (video["AntiAlias"], video["Sharpness"], video["ColorMetadata"]) == ("ENABLED", 50, "INSERT")
    assert output["ContainerSettings"] == {"Container": "RAW"} and output["Extension"] == "jpg"
    assert request["Settings"]["TimecodeConfig"] == {"Source": "ZEROBASED"}
    assert request["AccelerationSettings"] == {"Mode": "DISABLED"}
    assert (request["StatusUpdateInterval"], request["Priority"]) == ("SECONDS_60", 0)
    assert (request["Role"], request["Queue"]) == (ROLE, QUEUE)
    # No proxy unless asked for: only the frames group.
    assert len(request["Settings"]["OutputGroups"]) == 1


def test_frames_are_named_like_the_opencv_engine_names_them():
    request = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    group = frame_group(request)
    destination = group["OutputGroupSettings"]["FileGroupSettings"]["Destination"]
    (output,) = group["Outputs"]
    # MediaConvert names frames <destination base><NameModifier>.NNNNNNN.<Extension>.
    produced = f"{destination}{output['NameModifier']}.{2:07d}.{output['Extension']}"
    assert produced == f"s3://{IMAGE_BUCKET}/{frame_key(VIDEO.key, 2)}"
    assert (
        produced
        == "s3://visionpipe-images-abc/video_inputs/line 3/phone clip 01.mp4/phone clip 01_frame.0000002.jpg"
    )


def test_input_is_the_decoded_key_with_the_original_input_settings():
    request = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    (job_input,) = request["Settings"]["Inputs"]
    assert job_input["FileInput"] == "s3://visionpipe-videos-abc/video_inputs/line 3/phone clip 01.mp4"
    assert job_input["TimecodeSource"] == "ZEROBASED" and job_input["PsiControl"] == "USE_PSI"
    assert job_input["AudioSelectors"]["Audio Selector 1"]["DefaultSelection"] == "DEFAULT"
    assert job_input["VideoSelector"]["Rotate"] == "AUTO"


def test_user_metadata_carries_the_source_video_and_round_trips():
    request = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    metadata = request["UserMetadata"]
    assert metadata["source-bucket"] == VIDEO.bucket and metadata["source-key"] == VIDEO.key
    assert metadata["visionpipe-stack"] == "visionpipe"
    rebuilt = source_object(metadata)
    assert rebuilt == S3Object(**{**VIDEO.__dict__, "event_name": ""})
    assert rebuilt.upload_id == VIDEO.upload_id  # the failure item of a failed job is the upload's


def test_client_request_token_makes_a_duplicate_event_the_same_job_and_a_new_version_a_new_one():
    first = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    again = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    reupload = S3Object(**{**VIDEO.__dict__, "version_id": "other", "sequencer": "0062A3C1E4B7D5FB99"})
    assert first["ClientRequestToken"] == again["ClientRequestToken"]
    assert (
        create_job_request(reupload, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)["ClientRequestToken"]
        != (first["ClientRequestToken"])
    )


@pytest.mark.parametrize(
    ("interval", "rate"),
    [(5, (1, 5)), (1, (1, 1)), (0.5, (2, 1)), (2.5, (2, 5)), (10, (1, 10)), (0.04, (25, 1))],
)
def test_interval_becomes_a_framerate_of_one_capture_every_interval(interval, rate):
    assert framerate_for_interval(interval) == rate


def test_configured_capture_settings_reach_the_request():
    capture = CaptureSettings(interval_seconds=2.5, max_captures=12, width=640, height=360, jpeg_quality=95)
    request = create_job_request(VIDEO, IMAGE_BUCKET, capture, MEDIACONVERT)
    submit(request)
    video = frame_group(request)["Outputs"][0]["VideoDescription"]
    assert (video["Width"], video["Height"]) == (640, 360)
    assert video["CodecSettings"]["FrameCaptureSettings"] == {
        "FramerateNumerator": 2,
        "FramerateDenominator": 5,
        "MaxCaptures": 12,
        "Quality": 95,
    }


def test_proxy_goes_to_the_video_bucket_outside_video_inputs():
    settings = MediaConvertSettings(**{**MEDIACONVERT.__dict__, "proxy_output": True})
    request = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), settings)
    submit(request)
    (proxy,) = [g for g in request["Settings"]["OutputGroups"] if g["Name"] == "MP4 proxy"]
    destination = proxy["OutputGroupSettings"]["FileGroupSettings"]["Destination"]
    assert destination == "s3://visionpipe-videos-abc/proxies/line 3/phone clip 01"
    assert "video_inputs/" not in destination  # would trigger frame capture again
    (output,) = proxy["Outputs"]
    assert output["ContainerSettings"]["Container"] == "MP4"
    assert output["ContainerSettings"]["Mp4Settings"]["MoovPlacement"] == "PROGRESSIVE_DOWNLOAD"
    h264 = output["VideoDescription"]["CodecSettings"]["H264Settings"]
    assert (h264["RateControlMode"], h264["CodecProfile"], h264["GopSize"]) == ("CBR", "MAIN", 90)
    aac = output["AudioDescriptions"][0]["CodecSettings"]["AacSettings"]
    assert (aac["Bitrate"], aac["SampleRate"], aac["CodingMode"]) == (96000, 48000, "CODING_MODE_2_0")


def test_no_queue_configured_means_the_account_default():
    settings = MediaConvertSettings(**{**MEDIACONVERT.__dict__, "queue_arn": ""})
    request = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), settings)
    submit(request)
    assert "Queue" not in request


def test_engine_submits_through_the_given_endpoint_and_reports_the_job():
    client = mediaconvert_client()
    assert client.meta.endpoint_url == ENDPOINT
    engine = MediaConvertEngine(client, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    expected = create_job_request(VIDEO, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    with Stubber(client) as stubber:  # any other call (e.g. DescribeEndpoints) would fail the test
        stubber.add_response(
            "create_job",
            {"Job": {"Id": "1763713860123-ab12cd", "Role": ROLE, "Settings": {}, "Status": "SUBMITTED"}},
            expected,
        )
        summary = engine.capture(VIDEO)
        stubber.assert_no_pending_responses()
    assert summary == {
        "engine": "mediaconvert",
        "job_id": "1763713860123-ab12cd",
        "status": "SUBMITTED",
        "frame_folder": "video_inputs/line 3/phone clip 01.mp4/",
    }


def test_bad_request_is_a_failure_of_this_video():
    client = mediaconvert_client()
    engine = MediaConvertEngine(client, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "create_job", "BadRequestException", "Invalid FileInput", 400, expected_params=DEFAULT_REQUEST
        )
        with pytest.raises(RejectedInput, match="MediaConvert refused the job: Invalid FileInput"):
            engine.capture(VIDEO)


@pytest.mark.parametrize(
    ("code", "status"),
    [("TooManyRequestsException", 429), ("InternalServerErrorException", 500), ("ForbiddenException", 403)],
)
def test_throttling_server_errors_and_denied_access_raise_for_a_retry(code, status):
    client = mediaconvert_client()
    engine = MediaConvertEngine(client, IMAGE_BUCKET, CaptureSettings(), MEDIACONVERT)
    with Stubber(client) as stubber:
        stubber.add_client_error("create_job", code, "try again", status, expected_params=DEFAULT_REQUEST)
        with pytest.raises(ClientError):
            engine.capture(VIDEO)
