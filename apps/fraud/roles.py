"""Staff permissions for fraud cases (gathered by `manage.py bootstrap_roles`)."""

GROUP_PERMISSIONS = {
    "Finance": ["fraud.view_fraudcase", "fraud.change_fraudcase"],
    "Ops": ["fraud.view_fraudcase"],
}
