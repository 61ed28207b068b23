"""Likes (idempotent, race-safe), comments through the chat filter, cheap view/share counters, deletion."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.accounts.models import Block
from apps.moderation.models import BannedWord
from apps.moderation.services import banned_words_cache_clear
from apps.reels import counters, services
from apps.reels.models import Reel, ReelComment, ReelLike
from tests.accounts.factories import UserFactory
from tests.core.errors import assert_error
from tests.reels.factories import ReelFactory


@pytest.mark.django_db
def test_liking_twice_counts_once_and_unliking_twice_is_harmless(auth_client, user):
    # given a published reel
    reel = ReelFactory()
    client = auth_client(user)
    url = f"/api/v1/reels/{reel.pk}/like/"

    # when the user likes it twice
    first, second = client.post(url), client.post(url)

    # then one like is recorded and both answers agree
    assert first.json() == second.json() == {"liked": True, "likes_count": 1}
    assert ReelLike.objects.filter(reel=reel).count() == 1
    assert client.get(f"/api/v1/reels/{reel.pk}/").json()["liked"] is True

    # when they unlike it twice, then the count returns to zero and stays there
    assert client.delete(url).json() == {"liked": False, "likes_count": 0}
    assert client.delete(url).json() == {"liked": False, "likes_count": 0}
    reel.refresh_from_db()
    assert reel.likes_count == 0 and not ReelLike.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_likes_by_one_user_count_once():
    # given one user firing eight likes of one reel at the same moment
    reel = ReelFactory()
    user = UserFactory()
    barrier = threading.Barrier(8)
    errors = []

    def like() -> None:
        try:
            barrier.wait()
            services.reel_like(reel_id=reel.pk, user=user)
        except Exception as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=like) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then exactly one like exists and the counter agrees
    assert errors == []
    reel.refresh_from_db()
    assert reel.likes_count == 1 == ReelLike.objects.filter(reel=reel).count()


@pytest.mark.django_db
def test_likes_on_hidden_reels_are_refused(auth_client, user):
    blocked_author = UserFactory()
    Block.objects.create(blocker=blocked_author, blocked=user)
    for reel in (ReelFactory(author=blocked_author), ReelFactory(status=Reel.Status.PROCESSING)):
        assert_error(auth_client(user).post(f"/api/v1/reels/{reel.pk}/like/"), 404, "reel_not_found")
    assert not ReelLike.objects.exists()


@pytest.mark.django_db
def test_comments_go_through_the_chat_word_filter(auth_client, user):
    # given a banned word
    BannedWord.objects.create(term="badword")
    banned_words_cache_clear()
    reel = ReelFactory()

    # when the user comments with it
    response = auth_client(user).post(
        f"/api/v1/reels/{reel.pk}/comments/", {"text": "what a badword clip"}, format="json"
    )

    # then the comment is stored and shown masked, and counted
    assert response.status_code == 201, response.content
    assert "badword" not in response.json()["text"]
    comment = ReelComment.objects.get()
    assert comment.text == response.json()["text"] and comment.was_masked
    reel.refresh_from_db()
    assert reel.comments_count == 1
    listed = auth_client(user).get(f"/api/v1/reels/{reel.pk}/comments/").json()["results"]
    assert [c["id"] for c in listed] == [comment.pk]


@pytest.mark.django_db
def test_a_repeat_offender_is_muted_in_comments(auth_client, user):
    # given a banned word and the filter's default of three offences to mute
    BannedWord.objects.create(term="badword")
    banned_words_cache_clear()
    reel = ReelFactory()
    client = auth_client(user)
    url = f"/api/v1/reels/{reel.pk}/comments/"
    for _ in range(2):
        assert client.post(url, {"text": "badword"}, format="json").status_code == 201

    # when the third offence arrives, then it starts a mute and is refused, as is the next clean one
    assert_error(client.post(url, {"text": "badword again"}, format="json"), 403, "comment_muted")
    body = assert_error(client.post(url, {"text": "sorry"}, format="json"), 403, "comment_muted")
    assert body["details"]["muted_until"]
    assert ReelComment.objects.count() == 2


@pytest.mark.django_db
def test_comment_deletion_by_its_author_or_the_reel_author_only(auth_client, user, other_user):
    reel = ReelFactory(author=other_user)
    comment = services.reel_comment_create(reel_id=reel.pk, user=user, text="nice")
    stranger = UserFactory()
    assert_error(auth_client(stranger).delete(f"/api/v1/reels/comments/{comment.pk}/"), 404)
    assert auth_client(other_user).delete(f"/api/v1/reels/comments/{comment.pk}/").status_code == 204
    reel.refresh_from_db()
    assert reel.comments_count == 0 and not ReelComment.objects.exists()


@pytest.mark.django_db
def test_views_are_counted_in_redis_deduplicated_and_flushed_in_one_write(
    auth_client, user, django_assert_max_num_queries
):
    # given a published reel and three viewers
    reel = ReelFactory(published_at=timezone.now() - timedelta(hours=1))
    hot_before = reel.hot_score
    viewers = [user, *UserFactory.create_batch(2)]

    # when each views it (the first one twice), the view endpoint writes nothing to the database
    for viewer in viewers:
        client = auth_client(viewer)
        with django_assert_max_num_queries(3):  # auth + reel + block check: reads only
            assert client.post(f"/api/v1/reels/{reel.pk}/view/").json() == {"counted": True}
    assert auth_client(user).post(f"/api/v1/reels/{reel.pk}/view/").json() == {"counted": False}
    auth_client(user).post(f"/api/v1/reels/{reel.pk}/share/")
    reel.refresh_from_db()
    assert (reel.views_count, reel.shares_count) == (0, 0)
    assert counters.pending(reel_id=reel.pk) == {"views": 3, "shares": 1}

    # when the beat task flushes
    assert services.counters_flush() == 1

    # then the row has the counts, the reel rose in rank, and nothing is left pending
    reel.refresh_from_db()
    assert (reel.views_count, reel.shares_count) == (3, 1)
    assert reel.hot_score > hot_before
    assert counters.pending(reel_id=reel.pk) == {"views": 0, "shares": 0}
    assert not counters.client().sismember(counters.deployment_key(counters.DIRTY_KEY), reel.pk)
    assert services.counters_flush() == 0


@pytest.mark.django_db
def test_increments_arriving_during_a_flush_are_kept_for_the_next_one():
    # given a dirty reel whose pending counts were read by a flusher
    reel = ReelFactory()
    counters.counter_incr(reel_id=reel.pk, field="views", amount=5)
    batch = counters.dirty_batch(size=10)

    # when more views arrive before the flusher settles what it wrote
    counters.counter_incr(reel_id=reel.pk, field="views", amount=2)
    counters.settle(reel_id=reel.pk, flushed=batch[reel.pk])

    # then the late views stay pending and the reel stays dirty
    assert counters.pending(reel_id=reel.pk)["views"] == 2
    assert counters.client().sismember(counters.deployment_key(counters.DIRTY_KEY), reel.pk)


@pytest.mark.django_db
def test_likes_and_comments_rerank_the_reel_at_the_next_flush(user, django_capture_on_commit_callbacks):
    reel = ReelFactory()
    before = reel.hot_score
    with django_capture_on_commit_callbacks(execute=True):
        services.reel_like(reel_id=reel.pk, user=user)
        services.reel_comment_create(reel_id=reel.pk, user=user, text="love it")
    assert counters.client().sismember(counters.deployment_key(counters.DIRTY_KEY), reel.pk)
    services.counters_flush()
    reel.refresh_from_db()
    assert reel.hot_score > before


@pytest.mark.django_db
def test_the_author_deletes_a_reel_and_it_disappears(
    auth_client, user, other_user, media, django_capture_on_commit_callbacks
):
    # given a reel with its stored file
    reel = ReelFactory(author=user)
    assert media.exists(reel.video.name)

    # when someone else tries to delete it, then it is not found for them
    assert_error(auth_client(other_user).delete(f"/api/v1/reels/{reel.pk}/"), 404, "reel_not_found")

    # when the author deletes it
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client(user).delete(f"/api/v1/reels/{reel.pk}/")

    # then it is gone from every view, its file is removed, and the row remains for reports
    assert response.status_code == 204
    assert not media.exists(reel.video.name)
    reel.refresh_from_db()
    assert reel.status == Reel.Status.DELETED and reel.deleted_at is not None
    assert_error(auth_client(other_user).get(f"/api/v1/reels/{reel.pk}/"), 404)
    assert auth_client(other_user).get("/api/v1/reels/feed/").json()["results"] == []
    assert_error(auth_client(user).delete(f"/api/v1/reels/{reel.pk}/"), 404)


@pytest.mark.django_db
def test_a_report_opens_one_moderation_case_per_reel(auth_client, user, other_user):
    # given someone else's reel
    from apps.moderation.models import Case, Report

    reel = ReelFactory(author=other_user)
    url = f"/api/v1/reels/{reel.pk}/report/"

    # when the user reports it twice and a third user once
    first = auth_client(user).post(url, {"reason": "spam", "details": "links"}, format="json")
    again = auth_client(user).post(url, {"reason": "spam"}, format="json")
    third = auth_client(UserFactory()).post(url, {"reason": "nudity"}, format="json")

    # then one open case on the reel counts two reporters; the repeat returned the first report
    assert (first.status_code, again.status_code, third.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"]
    case = Case.objects.get(target_type=Case.TargetType.REEL, target_id=str(reel.pk))
    assert case.subject_id == other_user.pk and case.reporter_count == 2
    assert Report.objects.filter(case=case).count() == 2


@pytest.mark.django_db
def test_reports_are_refused_for_bad_reasons_own_reels_and_hidden_reels(auth_client, user, other_user):
    from apps.moderation.models import Case

    own = ReelFactory(author=user)
    assert_error(auth_client(user).post(f"/api/v1/reels/{own.pk}/report/", {"reason": "spam"}, format="json"), 400)
    theirs = ReelFactory(author=other_user)
    url = f"/api/v1/reels/{theirs.pk}/report/"
    assert_error(auth_client(user).post(url, {"reason": "boring"}, format="json"), 400, "invalid")
    Block.objects.create(blocker=other_user, blocked=user)
    assert_error(auth_client(user).post(url, {"reason": "spam"}, format="json"), 404, "reel_not_found")
    assert not Case.objects.exists()


@pytest.mark.django_db
def test_without_redis_counts_go_straight_to_the_row(settings, user):
    # given the embedded default (no REDIS_URL): one process, no beat to flush
    settings.REDIS_URL = ""
    reel = ReelFactory()
    before = reel.hot_score

    # when a view and a share arrive
    assert services.reel_view(reel_id=reel.pk, user=user) is True
    assert services.reel_view(reel_id=reel.pk, user=user) is False
    services.reel_share(reel_id=reel.pk, user=user)

    # then the row is current and re-ranked at once
    reel.refresh_from_db()
    assert (reel.views_count, reel.shares_count) == (1, 1)
    assert reel.hot_score > before
    assert services.counters_flush() == 0


@pytest.mark.django_db
def test_a_moderator_takes_a_reel_down(user, other_user):
    from apps.core.exceptions import PermissionDenied

    reel = ReelFactory(author=other_user)
    with pytest.raises(PermissionDenied):
        services.reel_takedown(reel_id=reel.pk, by=user, reason="spam")
    moderator = UserFactory(is_staff=True)
    services.reel_takedown(reel_id=reel.pk, by=moderator, reason="spam")
    reel.refresh_from_db()
    assert reel.status == Reel.Status.REJECTED and "spam" in reel.rejection_reason
    from apps.reels.exceptions import ReelNotFound
    from apps.reels.selectors import reel_get_visible

    with pytest.raises(ReelNotFound):
        reel_get_visible(reel_id=reel.pk, viewer=user)
