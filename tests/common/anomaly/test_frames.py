from visionpipe_common.anomaly.frames import FrameSource, frame_folder, frame_key, frame_source


def test_frame_names_follow_mediaconvert_frame_capture():
    assert frame_folder("video_inputs/line 3.mp4") == "video_inputs/line 3.mp4/"
    assert frame_key("video_inputs/line 3.mp4", 2) == "video_inputs/line 3.mp4/line 3_frame.0000002.jpg"
    assert frame_key("video_inputs/site/a.MOV", 0) == "video_inputs/site/a.MOV/a_frame.0000000.jpg"


def test_source_is_parsed_back_from_the_key():
    key = frame_key("video_inputs/site/line 3.mp4", 3)
    assert frame_source(key, {}, "videos", 5.0) == FrameSource("videos", "video_inputs/site/line 3.mp4", 15.0)


def test_the_captures_own_metadata_gives_the_exact_time():
    key = frame_key("video_inputs/x.mkv", 1)
    metadata = {"source-bucket": "videos", "source-key": "video_inputs/x.mkv", "frame-time": "2.5"}
    assert frame_source(key, metadata, "videos", 5.0) == FrameSource("videos", "video_inputs/x.mkv", 2.5)


def test_provenance_metadata_that_disagrees_with_the_key_is_not_trusted():
    key = frame_key("video_inputs/x.mkv", 1)
    from_key = FrameSource("videos", "video_inputs/x.mkv", 5.0)
    for spoofed in (
        {"source-bucket": "someone-elses", "source-key": "video_inputs/x.mkv", "frame-time": "2.5"},
        {"source-bucket": "videos", "source-key": "video_inputs/secret.mp4", "frame-time": "2.5"},
    ):
        assert frame_source(key, spoofed, "videos", 5.0) == from_key
    # An upload outside video_inputs/ is a plain upload, whatever metadata it carries.
    upload = {"source-bucket": "videos", "source-key": "video_inputs/x.mkv", "frame-time": "2.5"}
    assert frame_source("image_inputs/x_frame.0000001.jpg", upload, "videos", 5.0) is None


def test_an_unusable_frame_time_falls_back_to_the_key():
    key = frame_key("video_inputs/x.mkv", 2)
    for bad in ("abc", "nan", "inf", "-1", ""):
        metadata = {"source-key": "video_inputs/x.mkv", "frame-time": bad}
        assert frame_source(key, metadata, "videos", 5.0).frame_time == 10.0


def test_plain_images_have_no_source():
    assert frame_source("image_inputs/a.jpg", {}, "videos", 5.0) is None
    assert frame_source("video_inputs/loose.jpg", {}, "videos", 5.0) is None
