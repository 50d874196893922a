"""A DIN A4 business letter as PDF, laid out after DIN 5008 form B for window envelopes.

The address sits where the window of a DL envelope shows it (20 mm from the left, 45 mm
from the top, 85 x 45 mm), so the print step needs no separate address label.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from fpdf import FPDF

PAGE_WIDTH: Final = 210.0
PAGE_HEIGHT: Final = 297.0
LEFT_MARGIN: Final = 25.0
RIGHT_MARGIN: Final = 20.0
BOTTOM_MARGIN: Final = 20.0
FONT: Final = "helvetica"
"""A PDF core font: no font file to ship; it covers Latin-1, so German umlauts and ß."""


@dataclass(frozen=True)
class Box:
    """A rectangle on the page, in millimetres from the top-left corner."""

    x: float
    y: float
    width: float
    height: float

    def contains(self, x: float, y: float) -> bool:
        """Tell whether the point lies inside the box (edges included)."""
        return self.x <= x <= self.x + self.width and self.y <= y <= self.y + self.height


WINDOW: Final = Box(x=20.0, y=45.0, width=85.0, height=45.0)
"""The address field of DIN 5008 form B: what the envelope window shows."""
NOTE_ZONE_HEIGHT: Final = 17.7
"""The top of the window holds the return address and postal notes (`Vermerkzone`)."""
INFO_BLOCK_X: Final = 125.0
INFO_BLOCK_Y: Final = 50.0
SUBJECT_Y: Final = 98.5
FOLD_MARKS_Y: Final = (105.0, 210.0)
PUNCH_MARK_Y: Final = 148.5
_SENDER_SIZE: Final = 7.0
_TEXT_SIZE: Final = 11.0
_LINE: Final = 4.6
_ADDRESS_LINE: Final = 4.5
_MAX_ADDRESS_LINES: Final = 6
_TEXT_INSET: Final = 5.0
_SUBSTITUTES: Final = str.maketrans(
    {
        "\u201e": '"',
        "\u201c": '"',
        "\u201d": '"',
        "\u201a": "'",
        "\u2018": "'",
        "\u2019": "'",
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
        "\u20ac": "EUR",
        "\u00a0": " ",
    }
)


@dataclass(frozen=True)
class Letter:
    """What a letter says, ready for layout.

    Attributes:
        sender_line: Return address above the recipient, e.g. `Firma · Straße 1 · 12345 Ort`.
        address: Recipient lines top to bottom: name lines, street, postal code and city,
            and the country for mail abroad.
        letter_date: The date printed in the information block.
        subject: The subject line (`Betreff`), printed in bold.
        salutation: E.g. `Sehr geehrte Frau Dr. Musterfrau`; a comma is added.
        body: The text below the salutation; paragraphs are separated by blank lines and
            single line breaks inside a paragraph are reflowed.
    """

    sender_line: str
    address: tuple[str, ...]
    letter_date: date
    subject: str
    salutation: str
    body: str


@dataclass(frozen=True)
class PlacedLine:
    """One line of text at a fixed position: `x` and the top `y` of its line, in mm."""

    text: str
    x: float
    y: float
    size: float


def printable(text: str) -> str:
    """Make text printable with the Latin-1 core font.

    Typographic quotes, dashes, the ellipsis and `€` get ASCII stand-ins; other letters
    outside Latin-1 lose their accents (`Ś` becomes `S`), and what has no Latin-1 base
    letter at all (`ł`) becomes `?`.
    """
    result = []
    for char in text.translate(_SUBSTITUTES):
        if ord(char) < 256:
            result.append(char)
            continue
        base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode("latin-1")
        result.append(base or "?")
    return "".join(result)


def postal_lines(
    name_lines: Sequence[str], street: str, postal_code: str, city: str, country: str
) -> tuple[str, ...]:
    """The address lines of a recipient; a country other than Germany gets its own last line."""
    lines = [*name_lines, street, f"{postal_code} {city}".strip()]
    if country.strip().upper() not in ("", "DE"):
        lines.append(country.strip().upper())
    return tuple(line for line in lines if line.strip())


def window_lines(letter: Letter) -> list[PlacedLine]:
    """Place the return address and the recipient inside the envelope window.

    The return address sits at the bottom of the note zone, the recipient in the address
    zone below it; at most six address lines fit, so name lines beyond that are dropped
    from the top (the postal lines below them always stay).
    """
    x = WINDOW.x + _TEXT_INSET
    sender_y = WINDOW.y + NOTE_ZONE_HEIGHT - 4.0
    placed = [PlacedLine(printable(letter.sender_line), x, sender_y, _SENDER_SIZE)]
    address = letter.address[-_MAX_ADDRESS_LINES:]
    top = WINDOW.y + NOTE_ZONE_HEIGHT
    placed.extend(
        PlacedLine(printable(line), x, top + index * _ADDRESS_LINE, _TEXT_SIZE)
        for index, line in enumerate(address)
    )
    return placed


def paragraphs(body: str) -> list[str]:
    """Split a body into paragraphs at blank lines, reflowing single line breaks."""
    blocks = [" ".join(block.split()) for block in body.replace("\r\n", "\n").split("\n\n")]
    return [block for block in blocks if block]


def render_letter(letter: Letter) -> bytes:
    """Render a letter as a PDF document.

    The output depends only on the letter (the PDF creation date is the letter date), so
    rendering a job again gives the same document.

    Returns:
        The PDF bytes.
    """
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_creation_date(_midnight(letter.letter_date))
    pdf.set_margins(LEFT_MARGIN, 20.0, RIGHT_MARGIN)
    pdf.set_auto_page_break(auto=True, margin=BOTTOM_MARGIN)
    pdf.add_page()
    _marks(pdf)
    for line in window_lines(letter):
        pdf.set_font(FONT, size=line.size)
        pdf.set_xy(line.x, line.y)
        pdf.cell(WINDOW.width - 2 * _TEXT_INSET, _ADDRESS_LINE, line.text)
    pdf.set_font(FONT, size=_TEXT_SIZE)
    pdf.set_xy(INFO_BLOCK_X, INFO_BLOCK_Y)
    pdf.cell(
        PAGE_WIDTH - RIGHT_MARGIN - INFO_BLOCK_X, _LINE, f"Datum: {_german(letter.letter_date)}"
    )
    width = PAGE_WIDTH - LEFT_MARGIN - RIGHT_MARGIN
    pdf.set_xy(LEFT_MARGIN, SUBJECT_Y)
    pdf.set_font(FONT, style="B", size=_TEXT_SIZE)
    pdf.multi_cell(width, _LINE, printable(letter.subject))
    pdf.set_font(FONT, size=_TEXT_SIZE)
    pdf.ln(2 * _LINE)
    pdf.multi_cell(width, _LINE, printable(f"{letter.salutation.strip()},"))
    for paragraph in paragraphs(letter.body):
        pdf.ln(_LINE)
        pdf.multi_cell(width, _LINE, printable(paragraph))
    return bytes(pdf.output())


def _marks(pdf: FPDF) -> None:
    """Fold marks for a DIN long envelope and the punch mark, on the left edge."""
    pdf.set_line_width(0.2)
    for y in FOLD_MARKS_Y:
        pdf.line(3.0, y, 8.0, y)
    pdf.line(3.0, PUNCH_MARK_Y, 10.0, PUNCH_MARK_Y)


def _german(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
