"""Permissions each staff group needs in the accounts app (gathered by `manage.py bootstrap_roles`)."""

GROUP_PERMISSIONS = {
    "Moderators": ["accounts.view_user", "accounts.change_user", "accounts.view_block", "accounts.view_follow"],
    "Finance": ["accounts.view_user"],
    "Ops": ["accounts.view_user", "accounts.change_user", "accounts.view_follow", "accounts.view_block"],
}
