GROUP_PERMISSIONS = {
    "Finance": [
        "wallet.view_account",
        "wallet.view_journalentry",
        "wallet.view_posting",
        "wallet.view_coingrant",
        "wallet.add_coingrant",
        "wallet.view_cashoutrequest",
        "wallet.change_cashoutrequest",
        "wallet.view_cashouthold",
    ],
    "Ops": ["wallet.view_account", "wallet.view_journalentry", "wallet.view_posting", "wallet.view_cashoutrequest"],
    "Moderators": ["wallet.view_account"],
}
