"""The language people read: gettext catalogues, one per package, in Chinese (the default) and
English.

Source strings are English and are the catalogues' message ids; ``locale/zh`` translates them,
``locale/en`` holds them unchanged, so a missing English entry is caught like a Chinese one.
Each package binds its own catalogue with :func:`catalogue`::

    _ = catalogue("ledger", Path(__file__).parent / "locale")
    raise RuleViolationError(_("{voucher} was reversed on {day}").format(voucher=v, day=d), ...)

A string that must be looked up later (a click help text, a table label defined at import) is
marked with :func:`N_`, which returns it unchanged, and translated where it is shown.

The language is a context variable, so a web request and a command each read their own; the
command line sets it once from ``--lang`` (``use``). ``make catalogues`` extracts, updates and
compiles the catalogues with Babel; tests/test_catalogues.py holds them complete and compiled.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
DEFAULT = "zh"

LANG: ContextVar[str] = ContextVar("grant_ledger_lang", default=DEFAULT)


def use(lang: str) -> None:
    """Read every message from here on in ``lang`` (zh or en), the auditor's verifier's too."""
    from audit.verifier import i18n as verifier

    LANG.set(lang if lang in LANGUAGES else DEFAULT)
    verifier.use(lang)


def current() -> str:
    return LANG.get()


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated where it is shown."""
    return message


@cache
def _translations(domain: str, localedir: str, lang: str) -> gettext.NullTranslations:
    return gettext.translation(domain, localedir, languages=[lang], fallback=True)


def catalogue(domain: str, localedir: Path) -> Callable[[str], str]:
    """The ``_`` of one package: ``message`` in the current language, or unchanged if the
    catalogue lacks it (tests/test_catalogues.py keeps that from happening)."""
    where = str(localedir)

    def _(message: str) -> str:
        if not message:
            return message
        return _translations(domain, where, LANG.get()).gettext(message)

    return _


# the catalogue of ``ledger`` and ``projections``
_ = catalogue("ledger", Path(__file__).parent / "locale")
