GROUP_PERMISSIONS = {
    "Finance": ["gifts.view_gift", "gifts.view_giftsend"],
    "Ops": ["gifts.view_gift", "gifts.add_gift", "gifts.change_gift", "gifts.view_giftsend"],
    "Moderators": ["gifts.view_giftsend"],
}
