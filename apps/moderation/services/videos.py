"""Reel videos: sampling a video's frames and deciding whether it may be published."""

from typing import Any

from apps.moderation.selectors import moderation_settings_get
from apps.moderation.types import VideoVerdict


def video_check(*, path: str) -> VideoVerdict:
    """Sample a video's frames (settings: rate and cap), score them in batches, publish or reject.

    A reel is rejected when any sampled frame reaches the review threshold (nothing is live, so
    the stricter line costs only a re-upload), or when no frame decodes.
    """
    import cv2
    from PIL import Image

    from apps.moderation.classifier import exact_scores_from, nsfw_classifier

    conf = moderation_settings_get()
    classifier = nsfw_classifier()
    capture = cv2.VideoCapture(path)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
        step = max(1, round(fps / conf.video_sample_fps)) if conf.video_sample_fps > 0 else 1
        arrays: list[Any] = []
        times: list[float] = []
        index = 0
        while len(arrays) < conf.video_max_frames and capture.grab():
            if index % step == 0:
                ok, bgr = capture.retrieve()
                if ok:
                    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                    arrays.append(classifier.preprocess(Image.fromarray(rgb)))
                    times.append(index / fps)
            index += 1
    finally:
        capture.release()
    if not arrays:
        return VideoVerdict(
            publish=False,
            reason="The video could not be decoded.",
            max_score=0.0,
            model_version=classifier.version,
            frames_scored=0,
        )
    scores = classifier.score_arrays(arrays, exact_from=exact_scores_from(conf.nsfw_review_threshold))
    worst = max(range(len(scores)), key=scores.__getitem__)
    max_score = scores[worst]
    publish = max_score < conf.nsfw_review_threshold
    reason = "" if publish else f"Nudity or sexual content detected at {times[worst]:.1f} s."
    return VideoVerdict(
        publish=publish,
        reason=reason,
        max_score=max_score,
        model_version=classifier.version,
        frames_scored=len(scores),
        max_score_at_seconds=round(times[worst], 2),
    )
