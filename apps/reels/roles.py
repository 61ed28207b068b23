GROUP_PERMISSIONS = {
    "Moderators": ["reels.view_reel", "reels.change_reel", "reels.view_reelcomment", "reels.delete_reelcomment"],
}
