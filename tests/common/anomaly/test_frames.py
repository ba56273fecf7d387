from visionpipe_common.anomaly.frames import FrameSource, frame_folder, frame_key, frame_source


def test_frame_names_follow_mediaconvert_frame_capture():
    assert frame_folder("video_inputs/line 3.mp4") == "video_inputs/line 3.mp4/"
    assert frame_key("video_inputs/line 3.mp4", 2) == "video_inputs/line 3.mp4/line 3_frame.0000002.jpg"
    assert frame_key("video_inputs/site/a.MOV", 0) == "video_inputs/site/a.MOV/a_frame.0000000.jpg"


def test_source_is_parsed_back_from_the_key():
    key = frame_key("video_inputs/site/line 3.mp4", 3)
    assert frame_source(key, {}, "videos", 5.0) == FrameSource("videos", "video_inputs/site/line 3.mp4", 15.0)


def test_object_metadata_wins_over_the_key():
    metadata = {"source-bucket": "other", "source-key": "video_inputs/x.mkv", "frame-time": "2.5"}
    assert frame_source("video_inputs/anything.jpg", metadata, "videos", 5.0) == FrameSource(
        "other", "video_inputs/x.mkv", 2.5
    )


def test_plain_images_have_no_source():
    assert frame_source("image_inputs/a.jpg", {}, "videos", 5.0) is None
    assert frame_source("video_inputs/loose.jpg", {}, "videos", 5.0) is None
