"""Permissions the staff groups need in the core app (gathered by `manage.py bootstrap_roles`)."""

GROUP_PERMISSIONS = {
    "Finance": ["core.view_analytics"],
    "Ops": ["core.view_analytics"],
}
