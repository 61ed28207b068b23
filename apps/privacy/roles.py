GROUP_PERMISSIONS = {
    "Ops": ["privacy.view_accountdeletion"],
    "Finance": ["privacy.view_accountdeletion"],  # forfeited coins and earnings are theirs to reconcile
}
