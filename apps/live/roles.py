GROUP_PERMISSIONS = {
    "Moderators": [
        "live.view_stream",
        "live.change_stream",
        "live.view_streamkick",
        "live.add_streamkick",
        "live.view_streammute",
        "live.view_linkcast",
    ],
    "Ops": [
        "live.view_stream",
        "live.view_linkcast",
        "live.view_category",
        "live.add_category",
        "live.change_category",
    ],
}
