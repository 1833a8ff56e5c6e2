"""The invoice as a PDF (fpdf2): a header on every page, LINES_PER_PAGE lines a page, the
totals on the last. Lines are added a chunk at a time, so a large invoice is never all in
memory as rows (the PDF itself is)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import fpdf
from fpdf import FPDF

LINES_PER_PAGE = 40
VAT_RATE = 25  # percent
ROW_HEIGHT = 5.0  # mm
LEFT = 15.0  # mm
TABLE_TOP = 57.0  # mm: the first line's top on every page
TOTALS_TOP = TABLE_TOP + LINES_PER_PAGE * ROW_HEIGHT + 6  # mm: room kept on every page
# columns: description, quantity, unit, unit price, amount (mm)
WIDTHS = (86.0, 18.0, 14.0, 30.0, 32.0)
DESCRIPTION_CHARS = 52  # what fits in the description column at 9 pt


@dataclass(frozen=True)
class InvoiceHeader:
    """What every page shows; missing data is already a placeholder ("Saknade data:
    fallback till placeholder-värden")."""

    number: str
    tenant: str
    client: str
    project: str
    issued_on: str
    due_on: str
    currency: str


def expected_pages(lines: int) -> int:
    """The pages an invoice of ``lines`` lines takes."""
    return max(1, math.ceil(lines / LINES_PER_PAGE))


def money(ore: int) -> str:
    """Öre as Swedish kronor text: 123456 -> '1 234,56'."""
    sign = "-" if ore < 0 else ""
    kronor, rest = divmod(abs(ore), 100)
    return f"{sign}{kronor:,}".replace(",", " ") + f",{rest:02d}"


class InvoicePdf:
    """Build one invoice: :meth:`add_lines` per chunk, then :meth:`finish`."""

    def __init__(self, header: InvoiceHeader) -> None:
        self.header = header
        self.subtotal = 0  # öre
        self.lines = 0
        self._on_page = LINES_PER_PAGE  # lines on the current page (none yet: start one)
        pdf = FPDF(format="A4", unit="mm")
        pdf.set_auto_page_break(False)  # pages break where this class says
        pdf.set_title(_text(f"Faktura {header.number}"))
        pdf.set_author(_text(header.tenant))
        pdf.set_creator("hourhand examples/construction")
        pdf.set_producer(f"fpdf2 {fpdf.__version__}")
        self.pdf = pdf

    def add_lines(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Lines with description, quantity, unit and unit_price (öre), in order."""
        pdf = self.pdf
        for row in rows:
            if self._on_page == LINES_PER_PAGE:
                self._new_page()
            amount = round(float(row["quantity"]) * int(row["unit_price"]))
            self.subtotal += amount
            cells = (
                _text(row["description"] or "(ingen beskrivning)")[:DESCRIPTION_CHARS],
                f"{float(row['quantity']):g}",
                _text(row["unit"] or "st"),
                money(int(row["unit_price"])),
                money(amount),
            )
            pdf.set_xy(LEFT, TABLE_TOP + self._on_page * ROW_HEIGHT)
            for i, (width, text) in enumerate(zip(WIDTHS, cells, strict=True)):
                pdf.cell(width, ROW_HEIGHT, text, align="L" if i in (0, 2) else "R")
            self._on_page += 1
            self.lines += 1

    def finish(self) -> bytes:
        """The totals on the last page; the PDF's bytes."""
        pdf = self.pdf
        if pdf.page == 0:  # an invoice without lines still has a page
            self._new_page()
        vat = round(self.subtotal * VAT_RATE / 100)
        totals = (
            ("Summa exkl. moms", money(self.subtotal)),
            (f"Moms {VAT_RATE} %", money(vat)),
            (f"Att betala ({_text(self.header.currency)})", money(self.subtotal + vat)),
        )
        pdf.set_font("Helvetica", "B", 10)
        for i, (label, value) in enumerate(totals):
            pdf.set_xy(LEFT + 86, TOTALS_TOP + i * 6)
            pdf.cell(62, 6, label, align="R")
            pdf.cell(32, 6, value, align="R")
        return bytes(pdf.output())

    def _new_page(self) -> None:
        pdf, h = self.pdf, self.header
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.set_xy(LEFT, 15)
        pdf.cell(120, 8, _text(h.tenant))
        pdf.cell(60, 8, "FAKTURA", align="R")
        pdf.set_font("Helvetica", "", 9)
        facts = (
            ("Fakturanummer", h.number),
            ("Fakturadatum", h.issued_on),
            ("Förfallodatum", h.due_on),
            ("Kund", h.client),
            ("Projekt", h.project),
        )
        for i, (label, value) in enumerate(facts):
            pdf.set_xy(LEFT, 26 + i * 4.5)
            pdf.cell(35, 4.5, label)
            pdf.cell(145, 4.5, _text(value)[:80])
        pdf.set_font("Helvetica", "B", 9)
        pdf.set_xy(LEFT, TABLE_TOP - ROW_HEIGHT - 1)
        titles = ("Beskrivning", "Antal", "Enhet", "À-pris", "Belopp")
        for i, (width, title) in enumerate(zip(WIDTHS, titles, strict=True)):
            pdf.cell(width, ROW_HEIGHT, title, border="B", align="L" if i in (0, 2) else "R")
        pdf.set_font("Helvetica", "", 8)
        pdf.set_xy(LEFT, 285)
        pdf.cell(180, 5, f"Sida {pdf.page} av {{nb}}", align="C")
        pdf.set_font("Helvetica", "", 9)
        self._on_page = 0


def _text(value: Any) -> str:
    """Text the PDF's core font can show (Latin-1: Swedish letters are in it); anything
    else becomes '?'."""
    return str(value).encode("latin-1", "replace").decode("latin-1")
