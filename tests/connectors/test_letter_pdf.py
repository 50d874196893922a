"""The letter PDF: DIN 5008 window position, German text, stable output."""

from __future__ import annotations

import re
import zlib
from datetime import date

from connectors.letter_pdf import (
    PAGE_HEIGHT,
    WINDOW,
    Letter,
    paragraphs,
    postal_lines,
    printable,
    render_letter,
    window_lines,
)

_POINTS_PER_MM = 72 / 25.4
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)
_TEXT = re.compile(r"BT ([\d.]+) ([\d.]+) Td \((.*?)\) Tj ET")


def pdf_texts(pdf: bytes) -> list[tuple[float, float, str]]:
    """Every text line of a PDF made by fpdf2: (x mm from left, y mm from top, text)."""
    found = []
    for match in _STREAM.finditer(pdf):
        try:
            content = zlib.decompress(match.group(1)).decode("latin-1")
        except zlib.error:
            continue
        for x, y, text in _TEXT.findall(content):
            x_mm = float(x) / _POINTS_PER_MM
            y_mm = PAGE_HEIGHT - float(y) / _POINTS_PER_MM
            found.append((x_mm, y_mm, text))
    return found


def a_letter(**changes: object) -> Letter:
    fields: dict[str, object] = {
        "sender_line": "Beispiel GmbH · Postfach 1 · 10115 Berlin",
        "address": postal_lines(
            ["Frau Dr. Erika Müßig"], "Hauptstraße 5", "01234", "Görlitz", "DE"
        ),
        "letter_date": date(2026, 3, 2),
        "subject": "Einladung zum Lauftreff",
        "salutation": "Sehr geehrte Frau Dr. Müßig",
        "body": "wir laden Sie\nherzlich ein.\n\nMit freundlichen Grüßen",
    }
    fields.update(changes)
    return Letter(**fields)  # type: ignore[arg-type]


def test_the_address_is_printed_inside_the_envelope_window() -> None:
    letter = a_letter()

    texts = pdf_texts(render_letter(letter))

    placed = {text: (x, y) for x, y, text in texts}
    for line in (*letter.address, letter.sender_line):
        x, y = placed[line]
        assert WINDOW.contains(x, y), f"{line!r} at ({x:.1f}, {y:.1f}) mm is outside the window"
    outside = [text for x, y, text in texts if not WINDOW.contains(x, y)]
    assert "Sehr geehrte Frau Dr. Müßig," in outside
    assert "Datum: 02.03.2026" in outside


def test_subject_salutation_and_body_follow_the_window_in_reading_order() -> None:
    texts = [
        text for _, _, text in sorted(pdf_texts(render_letter(a_letter())), key=lambda t: t[1])
    ]

    start = texts.index("Einladung zum Lauftreff")
    assert texts[start:] == [
        "Einladung zum Lauftreff",
        "Sehr geehrte Frau Dr. Müßig,",
        "wir laden Sie herzlich ein.",
        "Mit freundlichen Grüßen",
    ]


def test_umlauts_and_eszett_are_printed_unchanged() -> None:
    pdf = render_letter(a_letter())

    texts = [text for _, _, text in pdf_texts(pdf)]
    assert "Hauptstraße 5" in texts
    assert "01234 Görlitz" in texts


def test_characters_beyond_latin1_get_readable_stand_ins() -> None:
    quoted = "\u201eZitat\u201c \u2013 5 \u20ac\u2026"
    assert printable(quoted) == '"Zitat" - 5 EUR...'
    assert printable("Śląsk, Łódź") == "Slask, ?ódz"


def test_a_letter_to_germany_has_no_country_line_but_one_abroad_has() -> None:
    assert postal_lines(["Herr Max Probe"], "Weg 1", "12345", "Ort", "de")[-1] == "12345 Ort"
    assert postal_lines(["Herr Max Probe"], "Weg 1", "1010", "Wien", "AT")[-1] == "AT"


def test_too_many_name_lines_never_push_the_postal_lines_out_of_the_window() -> None:
    names = [f"Zeile {index}" for index in range(8)]
    letter = a_letter(address=postal_lines(names, "Hauptstraße 5", "01234", "Görlitz", "DE"))

    placed = window_lines(letter)

    address = [line.text for line in placed[1:]]
    assert len(address) == 6
    assert address[-2:] == ["Hauptstraße 5", "01234 Görlitz"]
    assert all(WINDOW.contains(line.x, line.y) for line in placed)


def test_rendering_the_same_letter_twice_gives_the_same_document() -> None:
    assert render_letter(a_letter()) == render_letter(a_letter())


def test_single_line_breaks_are_reflowed_and_blank_lines_separate_paragraphs() -> None:
    assert paragraphs("eins\nzwei\n\n\ndrei  \n") == ["eins zwei", "drei"]


def test_a_long_body_continues_on_a_second_page() -> None:
    body = "\n\n".join(f"Absatz {index} mit etwas Text." for index in range(20))

    pdf = render_letter(a_letter(body=body))

    assert len(re.findall(rb"/Type /Page\b", pdf)) == 2
    assert "Absatz 19 mit etwas Text." in [text for _, _, text in pdf_texts(pdf)]
