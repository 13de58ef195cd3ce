"""The verifier's language: its own gettext catalogue (``locale/``), standard library only, so the
auditor's package stays readable alone. The command line sets it with the ledger's (``use``).
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
LOCALE = Path(__file__).parent / "locale"
LANG: ContextVar[str] = ContextVar("grant_ledger_verifier_lang", default="zh")


def use(lang: str) -> None:
    LANG.set(lang if lang in LANGUAGES else "zh")


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


@cache
def _translations(lang: str) -> gettext.NullTranslations:
    return gettext.translation("verifier", str(LOCALE), languages=[lang], fallback=True)


def _(message: str) -> str:
    return _translations(LANG.get()).gettext(message) if message else message
