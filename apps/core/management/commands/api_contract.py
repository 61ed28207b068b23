"""Write or check the committed API contract, docs/api/openapi.json (README, "API versioning").

manage.py api_contract write   regenerate it (refused if it removes what was not deprecated first)
manage.py api_contract check   fail unless it is current and nothing was removed without deprecation
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.api_contract import CONTRACT_PATH, committed_schema, current_schema, dumps, removals


class Command(BaseCommand):
    help = "Write or check the committed OpenAPI contract (docs/api/openapi.json)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["write", "check"])
        parser.add_argument(
            "--allow-removals",
            action="store_true",
            help="write even though something not deprecated first is removed (a breaking change: /api/v2/)",
        )

    def handle(self, *args: Any, action: str, allow_removals: bool, **options: Any) -> None:
        new = current_schema()
        committed = committed_schema()
        removed = removals(committed, new) if committed is not None else []
        if removed and not allow_removals:
            raise CommandError(
                "The API removes what it had not deprecated first (mark it deprecated, keep it answering "
                "with Deprecation/Sunset headers, and remove it later):\n  " + "\n  ".join(removed)
            )
        if action == "write":
            CONTRACT_PATH.parent.mkdir(parents=True, exist_ok=True)
            CONTRACT_PATH.write_text(dumps(new))
            self.stdout.write(f"wrote {CONTRACT_PATH.relative_to(CONTRACT_PATH.parents[2])}")
            return
        if committed is None or dumps(committed) != dumps(new):
            raise CommandError(
                f"{CONTRACT_PATH.relative_to(CONTRACT_PATH.parents[2])} is not the current schema: "
                "run `manage.py api_contract write` and commit it."
            )
        self.stdout.write("the committed API contract is current and removes nothing")
