"""Permissions each staff group needs in the OG app (gathered by `manage.py bootstrap_roles`)."""

GROUP_PERMISSIONS = {
    "Ops": [
        "og.view_ogtier",
        "og.add_ogtier",
        "og.change_ogtier",
        "og.view_ogmembership",
        "og.view_ogpurchase",
        "og.view_ogdailybonus",
    ],
    "Finance": ["og.view_ogtier", "og.view_ogmembership", "og.view_ogpurchase", "og.view_ogdailybonus"],
    "Moderators": ["og.view_ogmembership"],
}
