"""The printable monthly earnings statement (PDF) a host can show to a bank.

In English: the built-in PDF fonts cover Latin-1 only, and Nepali needs a Devanagari font with text
shaping that the project does not ship yet. Names and titles outside Latin-1 are printed with "?" for
each character the fonts lack (the JSON earnings endpoint has them in full).
"""

from datetime import datetime

from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from apps.hosts.selectors import HostEarnings, local_zone

STATUS_LABELS = {
    "requested": "Waiting for review",
    "batched": "Sent for payment",
    "approved": "Paid",
    "rejected": "Rejected (returned)",
    "failed": "Failed (returned)",
}


def latin1(text: str) -> str:
    """`text` as the built-in fonts can print it."""
    return text.encode("latin-1", "replace").decode("latin-1")


def npr(paisa: int) -> str:
    return f"NPR {paisa // 100:,}.{paisa % 100:02d}"


def coins(amount: int, *, signed: bool = False) -> str:
    return f"{amount:+,}" if signed else f"{amount:,}"


def _local(at: datetime | None) -> str:
    return at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M") if at else "-"


def statement_pdf(earnings: HostEarnings) -> bytes:
    """The statement of `earnings` (one calendar month) as PDF bytes."""
    host, period, ledger = earnings.host, earnings.period, earnings.ledger
    pdf = FPDF(format="A4")
    pdf.set_title(f"HaloBuzz earnings statement {period.first:%Y-%m}")
    pdf.set_author("HaloBuzz")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()

    def line(text: str, *, size: int = 10, style: str = "") -> None:
        pdf.set_font("Helvetica", style=style, size=size)
        pdf.cell(0, 6, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def heading(text: str) -> None:
        pdf.ln(3)
        line(text, size=12, style="B")

    def table(header: tuple[str, ...], rows: list[tuple[str, ...]], widths: tuple[int, ...]) -> None:
        pdf.set_font("Helvetica", size=9)
        with pdf.table(col_widths=widths, text_align="LEFT", line_height=5) as grid:
            grid.row([latin1(cell) for cell in header])
            for row in rows:
                grid.row([latin1(cell) for cell in row])

    line("HaloBuzz - host earnings statement", size=16, style="B")
    line(f"Host: {host.display_name or host.username} (@{host.username}, user #{host.pk})")
    line(f"Period: {period.first:%d %B %Y} to {period.last:%d %B %Y} (Nepal time, {local_zone().key})")
    line(f"Issued: {_local(timezone.now())} Nepal time")

    heading("Summary (coins)")
    table(
        ("Item", "Coins"),
        [
            ("Opening balance", coins(ledger.opening_balance)),
            ("Earned from gifts", coins(ledger.gifts, signed=True)),
            ("Moved to cash-outs", coins(ledger.cashouts_requested, signed=True)),
            ("Rejected cash-outs returned", coins(ledger.cashouts_returned, signed=True)),
            ("Other adjustments", coins(ledger.other, signed=True)),
            ("Closing balance", coins(ledger.closing_balance)),
        ],
        (3, 1),
    )

    heading("Earnings by day")
    table(
        ("Date", "Streams", "Gifts", "Coins earned"),
        [(f"{d.day}", str(d.streams), str(d.gifts), coins(d.coins_earned)) for d in earnings.days]
        or [("No earnings this month", "", "", "")],
        (2, 1, 1, 1),
    )

    heading("Earnings by stream")
    table(
        ("Started", "Stream", "Peak viewers", "Unique viewers", "Gifts", "Coins earned"),
        [
            (
                _local(s.stream.started_at),
                f"#{s.stream.id} {s.stream.title}",
                str(s.stream.peak_viewers),
                str(s.stream.unique_viewers),
                str(s.gifts),
                coins(s.coins_earned),
            )
            for s in earnings.streams
        ]
        or [("No streams this month", "", "", "", "", "")],
        (3, 5, 2, 2, 1, 2),
    )

    heading("Cash-outs requested this month")
    table(
        ("Requested", "Cash-out", "Coins", "Amount", "Tax", "Paid out", "Status"),
        [
            (
                _local(p.requested_at),
                f"#{p.id}",
                coins(p.coins),
                npr(p.amount_paisa),
                npr(p.tax_paisa),
                npr(p.net_paisa),
                STATUS_LABELS.get(p.status, p.status),
            )
            for p in earnings.payouts.lines
        ]
        or [("No cash-outs this month", "", "", "", "", "", "")],
        (3, 2, 2, 2, 2, 2, 3),
    )
    line(f"Tax withheld from paid cash-outs: {npr(earnings.payouts.tax_withheld_paisa)}")

    pdf.ln(4)
    line("All figures come from the HaloBuzz coin ledger; coins earned are the host's share of each gift.", size=8)
    return bytes(pdf.output())
