"""Content and safety: reels, reports, age verification, frame checks and enforcements."""

import io
from pathlib import Path

from apps.accounts.models import User
from apps.moderation.selectors import moderation_settings_get
from apps.moderation.services import moderation_settings_cache_clear
from tests.accounts.factories import UserFactory
from tests.contract.runner import Contract
from tests.contract.scenarios import drives
from tests.live.factories import LiveStreamFactory
from tests.moderation.factories import EnforcementFactory
from tests.moderation.images import ASTRONAUT, COFFEE
from tests.reels.factories import ReelFactory
from tests.reels.videos import make_video

UNKNOWN = 10**9


def _file(contract: Contract, path: Path, mime_type: str) -> object:
    return contract.package.types.File(payload=io.BytesIO(path.read_bytes()), file_name=path.name, mime_type=mime_type)


@drives("reel_upload", "reel_get", "reel_delete", "reel_list_mine", "reel_list_by_author", "reel_feed")
def reels(contract: Contract) -> None:
    author, other = UserFactory(), UserFactory()
    client = contract.as_user(author)
    video = _file(contract, make_video(contract.workdir / "clip.mp4", seconds=2.0), "video/mp4")
    upload = contract.model_of("reel_upload")(video=video, caption="First reel")
    uploaded = contract.call("reel_upload", client, status=202, body=upload)
    not_video = _file(contract, COFFEE, "video/mp4")
    contract.call(
        "reel_upload",
        client,
        status=415,
        code="video_type_not_allowed",
        body=contract.model_of("reel_upload")(video=not_video),
    )
    contract.call("reel_get", client, status=200, reel_id=uploaded.id)
    contract.call("reel_get", client, status=404, code="reel_not_found", reel_id=UNKNOWN)
    contract.call("reel_list_mine", client, status=200)
    contract.call("reel_list_by_author", client, status=200, user_id=author.pk)
    ReelFactory()
    contract.call("reel_feed", client, status=200)
    contract.call("reel_feed", client, status=400, cursor="not-a-cursor")
    contract.call("reel_delete", contract.as_user(other), status=404, reel_id=uploaded.id)
    contract.call("reel_delete", client, status=204, reel_id=uploaded.id)


@drives("reel_update", "reel_hashtag", "reel_list_by_hashtag", "reel_trending")
def reel_discovery(contract: Contract) -> None:
    author, viewer = UserFactory(), UserFactory()
    reel = ReelFactory(author=author)
    ReelFactory()
    caption = contract.body("reel_update", {"caption": "Dashain kites #dashain #दशैं"})
    contract.call(
        "reel_update", contract.as_user(viewer), status=404, code="reel_not_found", reel_id=reel.pk, body=caption
    )
    contract.call("reel_update", contract.as_user(author), status=200, reel_id=reel.pk, body=caption)
    contract.call(
        "reel_update", contract.as_user(author), status=404, code="reel_not_found", reel_id=UNKNOWN, body=caption
    )
    client = contract.as_user(viewer)
    contract.call("reel_hashtag", client, status=200, tag="दशैं")
    contract.call("reel_hashtag", client, status=404, code="hashtag_not_found", tag="tihar")
    contract.call("reel_list_by_hashtag", client, status=200, tag="dashain")
    contract.call("reel_list_by_hashtag", client, status=404, code="hashtag_not_found", tag="tihar")
    contract.call("reel_trending", client, status=200, page_size=1)
    contract.call("reel_trending", client, status=400, code="invalid_cursor", cursor="not-a-cursor")


@drives(
    "reel_like",
    "reel_unlike",
    "reel_view",
    "reel_share",
    "reel_video",
    "reel_report",
    "reel_comment_list",
    "reel_comment_create",
    "reel_comment_delete",
)
def reel_engagement(contract: Contract) -> None:
    viewer, reel = UserFactory(), ReelFactory()
    client = contract.as_user(viewer)
    for operation_id in ("reel_like", "reel_unlike", "reel_view"):
        contract.call(operation_id, client, status=200, reel_id=reel.pk)
        contract.call(operation_id, client, status=404, code="reel_not_found", reel_id=UNKNOWN)
    contract.call("reel_share", client, status=204, reel_id=reel.pk)
    contract.call("reel_share", client, status=404, code="reel_not_found", reel_id=UNKNOWN)
    # media in an object store: the video is a redirect to a signed URL of the bucket
    contract.call("reel_video", client, status=302, reel_id=reel.pk)
    contract.call("reel_video", client, status=404, code="reel_not_found", reel_id=UNKNOWN)
    report = contract.body("reel_report", {"reason": "spam"})
    contract.call("reel_report", client, status=201, reel_id=reel.pk, body=report)
    contract.call("reel_report", client, status=200, reel_id=reel.pk, body=report)
    contract.call("reel_report", client, status=404, code="reel_not_found", reel_id=UNKNOWN, body=report)
    comment = contract.body("reel_comment_create", {"text": "Ramro!"})
    created = contract.call("reel_comment_create", client, status=201, reel_id=reel.pk, body=comment)
    empty = contract.body("reel_comment_create", {"text": ""})
    contract.call("reel_comment_create", client, status=400, code="invalid", reel_id=reel.pk, body=empty)
    contract.call("reel_comment_list", client, status=200, reel_id=reel.pk)
    contract.call("reel_comment_list", client, status=404, code="reel_not_found", reel_id=UNKNOWN)
    contract.call(
        "reel_comment_delete", contract.as_user(UserFactory()), status=404, code="reel_not_found", comment_id=created.id
    )
    contract.call("reel_comment_delete", client, status=204, comment_id=created.id)


@drives("moderation_report", "moderation_enforcement_list", "moderation_enforcement_appeal")
def reports_and_enforcements(contract: Contract) -> None:
    user, other = UserFactory(), UserFactory()
    client = contract.as_user(user)
    report = {"target_type": "user", "target_id": other.pk, "reason": "harassment"}
    contract.call("moderation_report", client, status=201, body=contract.body("moderation_report", report))
    about_self = {**report, "target_id": user.pk}
    contract.call(
        "moderation_report",
        client,
        status=400,
        code="cannot_report_self",
        body=contract.body("moderation_report", about_self),
    )
    enforcement = EnforcementFactory(user=user)
    contract.call("moderation_enforcement_list", client, status=200)
    appeal = contract.body("moderation_enforcement_appeal", {"text": "It was a joke between friends."})
    contract.call("moderation_enforcement_appeal", client, status=201, enforcement_id=enforcement.pk, body=appeal)
    contract.call(
        "moderation_enforcement_appeal",
        client,
        status=409,
        code="already_appealed",
        enforcement_id=enforcement.pk,
        body=appeal,
    )


@drives("moderation_age_verification", "moderation_age_id_document", "moderation_frame_upload")
def age_and_frames(contract: Contract) -> None:
    newcomer = UserFactory(age_verification=User.AgeVerification.UNVERIFIED)
    client = contract.as_user(newcomer)
    selfie = contract.model_of("moderation_age_verification")
    contract.call(
        "moderation_age_verification",
        client,
        status=400,
        code="no_face",
        body=selfie(selfie=_file(contract, COFFEE, "image/png")),
    )
    contract.call(
        "moderation_age_verification", client, status=201, body=selfie(selfie=_file(contract, ASTRONAUT, "image/png"))
    )
    contract.call(
        "moderation_age_verification",
        client,
        status=409,
        code="age_check_not_allowed",
        body=selfie(selfie=_file(contract, ASTRONAUT, "image/png")),
    )
    document = contract.model_of("moderation_age_id_document")
    an_id = _file(contract, COFFEE, "image/png")
    contract.call(
        "moderation_age_id_document", client, status=409, code="age_check_not_allowed", body=document(document=an_id)
    )
    # a safety margin of 20 years holds the astronaut (about 33) for a moderator, who asks for an ID
    margin = moderation_settings_get()
    margin.age_safety_margin_years = 20
    margin.save()
    moderation_settings_cache_clear()
    held = contract.as_user(UserFactory(age_verification=User.AgeVerification.UNVERIFIED))
    contract.call(
        "moderation_age_verification", held, status=201, body=selfie(selfie=_file(contract, ASTRONAUT, "image/png"))
    )
    an_id = _file(contract, COFFEE, "image/png")
    contract.call("moderation_age_id_document", held, status=200, body=document(document=an_id))

    stream = LiveStreamFactory()
    frame = contract.model_of("moderation_frame_upload")
    upload = frame(stream_id=stream.pk, image=_file(contract, ASTRONAUT, "image/png"))
    contract.call("moderation_frame_upload", contract.as_user(stream.host), status=202, body=upload)
    again = frame(stream_id=stream.pk, image=_file(contract, ASTRONAUT, "image/png"))
    contract.call("moderation_frame_upload", client, status=403, code="not_stream_host", body=again)


@drives(
    "moderation_host_word_list",
    "moderation_host_word_add",
    "moderation_host_word_update",
    "moderation_host_word_delete",
)
def host_words(contract: Contract) -> None:
    host = UserFactory()
    client = contract.as_user(host)
    word = contract.call(
        "moderation_host_word_add",
        client,
        status=201,
        body=contract.body("moderation_host_word_add", {"term": "bhalu"}),
    )
    other = contract.call(
        "moderation_host_word_add",
        client,
        status=201,
        body=contract.body("moderation_host_word_add", {"term": "gadha"}),
    )
    contract.call(
        "moderation_host_word_add",
        client,
        status=200,
        body=contract.body("moderation_host_word_add", {"term": "BHALU"}),
    )
    contract.call(
        "moderation_host_word_add",
        client,
        status=400,
        code="invalid",
        body=contract.body("moderation_host_word_add", {"term": " "}),
    )
    contract.call("moderation_host_word_list", client, status=200)
    rename = contract.body("moderation_host_word_update", {"term": "bandar"})
    contract.call("moderation_host_word_update", client, status=200, word_id=word.id, body=rename)
    clash = contract.body("moderation_host_word_update", {"term": "GADHA"})
    contract.call(
        "moderation_host_word_update", client, status=409, code="host_word_exists", word_id=word.id, body=clash
    )
    contract.call("moderation_host_word_delete", client, status=204, word_id=other.id)
    contract.call("moderation_host_word_delete", client, status=404, code="not_found", word_id=other.id)
