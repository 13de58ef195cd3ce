"""Whole numbers as a request carries them: a query string's page or event id, a Last-Event-ID,
a Content-Length."""

from __future__ import annotations


def whole_number(text: str, most_digits: int = 18) -> int | None:
    """``text`` as a whole number when it is ASCII digits only, at most ``most_digits`` of them
    (``²`` passes ``str.isdigit`` but not ``int``; 5,000 nines pass ``int`` but no database
    column), else None."""
    if text.isascii() and text.isdigit() and len(text) <= most_digits:
        return int(text)
    return None
