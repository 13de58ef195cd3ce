"""Every value label people read, in one place: the code the ledger stores (``subsidy``,
``approved``) and its name in the reader's language (财政补助, 已批复), through the catalogue.

Tables, workbooks and csv show ``label(kind, code)`` (unless ``--codes``); every option that
takes a code takes its Chinese or English name too (``code_of``). Categories, contents and
programmes carry their names in the policy data (``ledger.policy``) and are read from there.
"""

from __future__ import annotations

from ledger.i18n import N_, _

# kind -> code -> English name (the catalogue's message id)
NAMES: dict[str, dict[str, str]] = {
    "source": {"subsidy": N_("fiscal subsidy"), "matching": N_("matching funds")},
    "status": {
        "applied": N_("applied"),
        "approved": N_("approved"),
        "rejected": N_("rejected"),
        "closed": N_("closed"),
    },
    "role": {
        "officer": N_("finance officer"),
        "approver": N_("approver"),
        "auditor": N_("auditor"),
        "admin": N_("administrator"),
    },
}


def label(kind: str, code: str) -> str:
    """``code``'s name in the current language; an unknown code is shown as it is."""
    english = NAMES.get(kind, {}).get(code)
    return _(english) if english else code


def code_of(kind: str, text: str) -> str | None:
    """The code ``text`` names: the code itself, or its name in any language; None if none."""
    from ledger.i18n import LANG, LANGUAGES

    key = text.strip()
    names = NAMES.get(kind, {})
    if key in names:
        return key
    for code, english in names.items():
        if key.casefold() == english.casefold():
            return code
        for lang in LANGUAGES:
            token = LANG.set(lang)
            try:
                if key == _(english):
                    return code
            finally:
                LANG.reset(token)
    return None
