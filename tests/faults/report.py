"""The fault suite's table: one row per fault, printed at the end of the pytest run."""

from tests.faults.checks import Row

ROWS: list[Row] = []

COLUMNS = [
    ("fault", "fault", "<"),
    ("attempted", "operations attempted", ">"),
    ("acked", "acknowledged", ">"),
    ("refused", "refused", ">"),
    ("retried", "retried", ">"),
    ("lost", "lost", ">"),
    ("duplicated", "duplicated", ">"),
    ("refused_present", "refused yet present", ">"),
    ("unresolved", "unresolved", ">"),
    ("recovery", "recovery s", ">"),
]


def table(rows: list[Row]) -> str:
    cells = [[label for _, label, _ in COLUMNS]]
    for row in rows:
        cells.append(
            [f"{getattr(row, name):.1f}" if name == "recovery" else str(getattr(row, name)) for name, _, _ in COLUMNS]
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = []
    for n, line in enumerate(cells):
        lines.append(
            " | ".join(
                f"{cell:{align}{width}}" for cell, width, (_, _, align) in zip(line, widths, COLUMNS, strict=False)
            )
        )
        if n == 0:
            lines.append("-+-".join("-" * width for width in widths))
    for row in rows:
        for text in row.notes + row.problems:
            lines.append(f"  {row.fault}: {text}")
    lines.append(
        "retried: needed the same request again after a 5xx or no answer; recovery: the longest any operation "
        "went without a definite answer, or until the rooms or the payment were back (whichever is longer)"
    )
    return "\n".join(lines)
