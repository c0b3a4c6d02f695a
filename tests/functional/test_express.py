"""ImageWorkflow=EXPRESS: images run on the ImageAnalysis Express workflow, videos are handed to MediaAnalysis.

Both definitions are generated from one source (rekflow/asl); these runs show that the Express one analyses an
image through the same states and that a video still gets the task-token waits only Standard can run.
"""

from __future__ import annotations

from tests.conftest import jpeg_bytes, video_bytes


def test_an_image_is_analysed_by_the_express_workflow_in_twelve_states(make_runtime):
    # GIVEN the stack deployed with images on Express
    runtime = make_runtime(ImageWorkflow="EXPRESS")
    upload = runtime.upload(jpeg_bytes(), "photos/cat.jpg")

    # WHEN S3's event starts the workflow the template wires to it
    result = runtime.run(runtime.object_created_event(upload))

    # THEN ImageAnalysis (Express) ran the image path and stored one document, record and event
    assert ":stateMachine:" in runtime.stack.state_machine_arn and "imageanalysis" in result.arn.lower()
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["status"] == "SUCCEEDED"
    assert len(result.states_entered()) == 12
    (item,) = runtime.summary_items()
    assert item["Announced"] is True
    assert len(runtime.analyzed_events()) == 1


def test_a_video_is_handed_to_media_analysis_which_waits_for_its_jobs(make_runtime):
    runtime = make_runtime(ImageWorkflow="EXPRESS", Features="labels,segments")
    upload = runtime.upload(video_bytes(), "clips/tour.mp4")

    express = runtime.wait(runtime.start(runtime.object_created_event(upload)))
    assert express.status == "SUCCEEDED", express.cause
    assert express.states_entered() == ["Validate object", "What kind of media is it?", "Hand video to MediaAnalysis"]

    # The handed-over execution is MediaAnalysis's, with the same input, and it ran the video path.
    standard = runtime.wait(express.output["handedOverTo"])
    assert "mediaanalysis" in standard.arn.lower()
    assert standard.status == "SUCCEEDED", standard.cause
    assert {"Wait for label detection", "Wait for segment detection"} <= set(standard.states_entered())
    assert standard.output["features"]["segments"]["status"] == "SUCCEEDED"
