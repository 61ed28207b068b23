from django.urls import path

from apps.reels import apis

urlpatterns = [
    path("", apis.ReelUploadApi.as_view(), name="reel-upload"),
    path("feed/", apis.ReelFeedApi.as_view(), name="reel-feed"),
    path("mine/", apis.ReelMineApi.as_view(), name="reel-mine"),
    path("trending/", apis.ReelTrendingApi.as_view(), name="reel-trending"),
    path("hashtags/<str:tag>/", apis.HashtagApi.as_view(), name="reel-hashtag"),
    path("hashtags/<str:tag>/reels/", apis.HashtagReelsApi.as_view(), name="reel-hashtag-reels"),
    path("by/<id:user_id>/", apis.ReelByAuthorApi.as_view(), name="reel-by-author"),
    path("<id:reel_id>/", apis.ReelDetailApi.as_view(), name="reel-detail"),
    path("<id:reel_id>/video/", apis.ReelVideoApi.as_view(), name="reel-video"),
    path("<id:reel_id>/like/", apis.ReelLikeApi.as_view(), name="reel-like"),
    path("<id:reel_id>/comments/", apis.ReelCommentListCreateApi.as_view(), name="reel-comments"),
    path("<id:reel_id>/view/", apis.ReelViewApi.as_view(), name="reel-view"),
    path("<id:reel_id>/share/", apis.ReelShareApi.as_view(), name="reel-share"),
    path("<id:reel_id>/report/", apis.ReelReportApi.as_view(), name="reel-report"),
    path("comments/<id:comment_id>/", apis.ReelCommentDeleteApi.as_view(), name="reel-comment-delete"),
]
