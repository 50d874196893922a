import pytest

from streams.salutation import address_lines, letter_salutation, normalize_title, salutation


@pytest.mark.parametrize(
    ("gender", "title", "first", "last", "expected"),
    [
        ("female", "Dr.", "Erika", "Musterfrau", "Sehr geehrte Frau Dr. Musterfrau"),
        ("female", "dr.", "Erika", "Musterfrau", "Sehr geehrte Frau Dr. Musterfrau"),
        ("female", None, "Erika", "Musterfrau", "Sehr geehrte Frau Musterfrau"),
        ("male", None, "Max", "Mustermann", "Sehr geehrter Herr Mustermann"),
        ("male", "prof. dr.", "Hans", "Müller", "Sehr geehrter Herr Prof. Dr. Müller"),
        ("male", "Dr.-Ing.", "Hans", "Müller", "Sehr geehrter Herr Dr. Müller"),
        ("male", "Dipl.-Ing.", "Hans", "Müller", "Sehr geehrter Herr Müller"),
        ("female", "Dr. med.", "Erika", "Musterfrau", "Sehr geehrte Frau Dr. Musterfrau"),
        ("diverse", None, "Alex", "Beispiel", "Guten Tag Alex Beispiel"),
        ("unknown", None, "Alex", "Beispiel", "Guten Tag Alex Beispiel"),
        ("diverse", "Dr.", "Alex", "Beispiel", "Guten Tag Dr. Alex Beispiel"),
        ("unknown", None, None, None, "Guten Tag"),
        ("diverse", "Dr.", "", "", "Guten Tag"),
        ("female", None, "Erika", None, "Guten Tag Erika"),
        (None, None, "Alex", "Beispiel", "Guten Tag Alex Beispiel"),
        ("FEMALE", None, "Erika", "Musterfrau", "Sehr geehrte Frau Musterfrau"),
    ],
)
def test_letter_salutation(
    gender: str | None, title: str | None, first: str | None, last: str | None, expected: str
) -> None:
    assert letter_salutation(gender, title, first, last) == expected


@pytest.mark.parametrize("title", [None, "", "Dr.", "dr.", "Prof. Dr.", "Dipl.-Ing."])
def test_erika_musterfrau_is_never_greeted_as_a_man(title: str | None) -> None:
    line = letter_salutation("female", title, "Erika", "Musterfrau")
    assert line.startswith("Sehr geehrte Frau ")
    assert "Herr" not in line


@pytest.mark.parametrize(
    ("gender", "expected"),
    [("female", "Frau"), ("male", "Herr"), ("diverse", ""), ("unknown", ""), (None, "")],
)
def test_short_salutation(gender: str | None, expected: str) -> None:
    assert salutation(gender) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("dr.", "Dr."),
        ("prof. dr.", "Prof. Dr."),
        ("prof.dr.", "Prof. Dr."),
        ("DR. MED.", "Dr. med."),
        ("dipl.-ing.", "Dipl.-Ing."),
        ("Dr. h.c.", "Dr. h. c."),
        ("MBA", "MBA"),
        ("", ""),
        (None, ""),
    ],
)
def test_title_is_spelled_the_usual_way(raw: str | None, expected: str) -> None:
    assert normalize_title(raw) == expected


@pytest.mark.parametrize(
    ("gender", "title", "first", "last", "expected"),
    [
        ("female", "dr.", "Erika", "Musterfrau", ["Frau", "Dr. Erika Musterfrau"]),
        ("male", None, "Max", "Mustermann", ["Herrn", "Max Mustermann"]),
        ("male", "dipl.-ing.", "Max", "Mustermann", ["Herrn", "Dipl.-Ing. Max Mustermann"]),
        ("diverse", None, "Alex", "Beispiel", ["Alex Beispiel"]),
        ("unknown", "Dr.", "Alex", "Beispiel", ["Dr. Alex Beispiel"]),
        ("female", "Dr.", None, None, []),
    ],
)
def test_address_lines_follow_din_5008(
    gender: str, title: str | None, first: str | None, last: str | None, expected: list[str]
) -> None:
    assert address_lines(gender, title, first, last) == expected
