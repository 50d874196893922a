"""German salutations and address lines from gender, academic title and name.

Every mail and letter greets the person; a woman greeted as "Sehr geehrter Herr" or a
misspelt "dr." costs more trust than the mail earns, so the rules live in one place.
"""

import re

from streams.normalize import normalize_name

_TITLE_TOKEN = re.compile(r"-?[^\s.-]+\.?")
# Abbreviations of academic titles in their usual spelling, by lower-case form without dot.
_TITLE_SPELLING = {
    "prof": "Prof.",
    "dr": "Dr.",
    "dipl": "Dipl.",
    "ing": "Ing.",
    "-ing": "-Ing.",
    "-kfm": "-Kfm.",
    "-kffr": "-Kffr.",
    "med": "med.",
    "dent": "dent.",
    "vet": "vet.",
    "rer": "rer.",
    "nat": "nat.",
    "pol": "pol.",
    "oec": "oec.",
    "phil": "phil.",
    "jur": "jur.",
    "theol": "theol.",
    "h": "h.",
    "c": "c.",
}
# Only professor and doctor belong into a salutation ("Sehr geehrter Herr Prof. Dr. ..."); a
# "Dr.-Ing." is greeted as "Dr.".
_SALUTATION_TITLES = ("Prof.", "Dr.")


def salutation(gender: str | None) -> str:
    """Return the short salutation of a person.

    Args:
        gender: ``female``, ``male``, ``diverse`` or ``unknown`` (any case; None is unknown).

    Returns:
        ``Frau``, ``Herr``, or an empty string when a gendered form would be a guess.
    """
    return {"female": "Frau", "male": "Herr"}.get((gender or "").strip().lower(), "")


def normalize_title(title: str | None) -> str:
    """Return an academic title in its usual spelling.

    ``dr.`` becomes ``Dr.``, ``prof. dr.`` becomes ``Prof. Dr.``, ``dipl.-ing.`` becomes
    ``Dipl.-Ing.``; parts that are not known abbreviations are kept as written.

    Args:
        title: The title as entered, possibly empty.

    Returns:
        The title, or an empty string.
    """
    parts: list[str] = []
    for token in _TITLE_TOKEN.findall(normalize_name(title or "")):
        spelled = _TITLE_SPELLING.get(token.rstrip(".").lower(), token)
        if spelled.startswith("-") and parts:
            parts[-1] += spelled
        else:
            parts.append(spelled)
    return " ".join(parts)


def _salutation_title(title: str | None) -> str:
    kept = []
    for part in normalize_title(title).split():
        kept += [prefix for prefix in _SALUTATION_TITLES if part.startswith(prefix)]
    return " ".join(kept)


def _join(*parts: str | None) -> str:
    return " ".join(normalize_name(part) for part in parts if part and part.strip())


def letter_salutation(
    gender: str | None, title: str | None, first_name: str | None, last_name: str | None
) -> str:
    """Return the salutation line of a letter or mail, without the trailing comma.

    ``Sehr geehrte Frau Dr. Musterfrau`` for women, ``Sehr geehrter Herr Prof. Dr. Müller``
    for men; for ``diverse``, ``unknown`` or a missing last name the neutral
    ``Guten Tag Vorname Nachname`` (``Guten Tag`` alone when no name is known). Only
    ``Prof.`` and ``Dr.`` of a title are used in the salutation, as is customary.

    Args:
        gender: ``female``, ``male``, ``diverse`` or ``unknown``.
        title: Academic title, e.g. ``dr.``; normalised here.
        first_name: First name, possibly empty.
        last_name: Last name, possibly empty.

    Returns:
        The salutation line.
    """
    short = salutation(gender)
    academic = _salutation_title(title)
    if short and _join(last_name):
        opening = "Sehr geehrte" if short == "Frau" else "Sehr geehrter"
        return _join(opening, short, academic, last_name)
    name = _join(first_name, last_name)
    return _join("Guten Tag", academic if name else "", name)


def address_lines(
    gender: str | None, title: str | None, first_name: str | None, last_name: str | None
) -> list[str]:
    """Return the name lines of a postal address as DIN 5008 lays them out.

    ``["Frau", "Dr. Erika Musterfrau"]`` or ``["Herrn", "Max Mustermann"]``; without a
    known gender only the name line.

    Args:
        gender: ``female``, ``male``, ``diverse`` or ``unknown``.
        title: Academic title, normalised here and kept in full in the name line.
        first_name: First name, possibly empty.
        last_name: Last name, possibly empty.

    Returns:
        The lines above street and city; empty when no name is known.
    """
    name = _join(first_name, last_name)
    if not name:
        return []
    name_line = _join(normalize_title(title), name)
    recipient = {"Frau": "Frau", "Herr": "Herrn"}.get(salutation(gender))
    return [recipient, name_line] if recipient else [name_line]
