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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Everything read inside in ``lang`` (the verifier's messages too), then as before."""
    from audit.verifier import i18n as verifier

    lang = lang if lang in LANGUAGES else DEFAULT
    token, theirs = LANG.set(lang), verifier.LANG.set(lang)
    try:
        yield
    finally:
        verifier.LANG.reset(theirs)
        LANG.reset(token)


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


class Named:
    """A name the policy data gives in both languages (a programme's, a category's)."""

    __slots__ = ("en", "zh")

    def __init__(self, zh: str, en: str) -> None:
        self.zh, self.en = zh, en

    def render(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Named) and (self.zh, self.en) == (other.zh, other.en)

    def __hash__(self) -> int:
        return hash((self.zh, self.en))


class Text:
    """A message read later, perhaps in another language: its English id and its values, rendered
    by ``str()`` in the current language. Built only where a rule is broken (``T_``), never on a
    passing check; the compliance projection stores it as JSON (``dumps``) and renders it when read
    (``loads``). A value is kept as text, or as a ``Text`` (a label) or ``Named`` rendered with it."""

    __slots__ = ("args", "msgid")

    def __init__(self, msgid: str, args: Mapping[str, object]) -> None:
        self.msgid = msgid
        # numbers kept as they are for the template's format specs ({value:04X})
        self.args = {k: v if isinstance(v, Text | Named | int | float) else str(v) for k, v in args.items()}

    def render(self, lang: str | None = None) -> str:
        lang = lang or LANG.get()
        values = {k: v.render(lang) if isinstance(v, Text | Named) else v for k, v in self.args.items()}
        template = _translations("ledger", _LOCALE, lang).gettext(self.msgid)
        return template.format(**values) if values else template

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Text({self.msgid!r}, {self.args!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Text) and (self.msgid, self.args) == (other.msgid, other.args)

    def __hash__(self) -> int:
        return hash(self.msgid)

    def dumps(self) -> str:
        import json

        return STORED + json.dumps(_plain(self), ensure_ascii=False, sort_keys=True)

    @staticmethod
    def loads(stored: str) -> Text | str:
        """What ``dumps`` wrote, or a message stored as plain text by an earlier version."""
        if not stored.startswith(STORED):
            return stored
        import json

        try:
            return _built(json.loads(stored[len(STORED) :]))  # type: ignore[return-value]
        except (ValueError, KeyError, TypeError, AttributeError):
            return stored


def _plain(value: object) -> object:
    if isinstance(value, Text):
        return {"args": {k: _plain(v) for k, v in value.args.items()}, "id": value.msgid}
    if isinstance(value, Named):
        return {"en": value.en, "zh": value.zh}
    return value


def _built(value: object) -> object:
    if isinstance(value, dict):
        if "id" in value:
            return Text(value["id"], {k: _built(v) for k, v in value["args"].items()})
        return Named(value["zh"], value["en"])
    return value if isinstance(value, int | float) else str(value)


def T_(msgid: str, /, **args: object) -> Text:
    """``msgid`` with its values, rendered when read (see :class:`Text`)."""
    return Text(msgid, args)


_LOCALE = str(Path(__file__).parent / "locale")
# what a stored Text begins with: a control character, which no text a person types may hold
# (ledger.text), so a reason or a note is never read as one
STORED = "\x1e"


def catalogue_dir() -> str:
    """Where the catalogue of ``ledger`` and ``projections`` is."""
    return _LOCALE
