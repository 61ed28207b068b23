"""Permissions each staff group needs in the games app (gathered by `manage.py bootstrap_roles`)."""

GROUP_PERMISSIONS = {
    "Ops": [
        "games.view_game",
        "games.add_game",
        "games.change_game",
        "games.view_prizeslot",
        "games.add_prizeslot",
        "games.change_prizeslot",
        "games.delete_prizeslot",
        "games.view_prizetable",
        "games.view_fairseed",
        "games.view_gameround",
        "games.view_gamedayreport",
    ],
    "Finance": ["games.view_game", "games.view_prizetable", "games.view_gameround", "games.view_gamedayreport"],
}
