"""The web pages' own catalogue (domain ``web``): page labels, in Chinese by default; the
ledger's messages (refusals, labels of codes) come from the ledger's catalogue, in the same
language (``ledger.i18n.LANG``, set per request from the session or ``?lang=``)."""

from __future__ import annotations

from pathlib import Path

from ledger.i18n import catalogue

LOCALE = Path(__file__).parent / "locale"

_ = catalogue("web", LOCALE)
