"""Staff permissions of the moderation app (gathered by `manage.py bootstrap_roles`).

Only holders of moderation.act_case (the Moderators group) and superusers can act on the queue.
"""

GROUP_PERMISSIONS = {
    "Moderators": [
        "moderation.view_case",
        "moderation.act_case",
        "moderation.view_frame",
        "moderation.view_report",
        "moderation.view_agecheck",
        "moderation.view_enforcement",
        "moderation.view_appeal",
        "moderation.view_moderationaction",
        "moderation.view_heldmessage",
        "moderation.view_bannedword",
        "moderation.add_bannedword",
        "moderation.change_bannedword",
        "moderation.delete_bannedword",
        "moderation.view_moderationsettings",
        "moderation.change_moderationsettings",
    ],
    "Ops": ["moderation.view_case", "moderation.view_moderationaction", "moderation.view_moderationsettings"],
}
