"""Staff permissions for payments (gathered by `manage.py bootstrap_roles`)."""

GROUP_PERMISSIONS = {
    "Finance": [
        "payments.view_coinpackage",
        "payments.add_coinpackage",
        "payments.change_coinpackage",
        "payments.view_payment",
        "payments.reverify_payment",
        "payments.settle_refund",
        "payments.view_paymentreview",
        "payments.view_dailytotal",
        "payments.view_gatewayexchange",
    ],
    "Ops": ["payments.view_coinpackage", "payments.view_payment", "payments.view_gatewayexchange"],
}
