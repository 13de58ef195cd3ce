"""Every value label people read, in one place: the code the ledger stores (``subsidy``,
``approved``) and its name in the reader's language (财政补助, 已批复), through the catalogue.

Tables, workbooks and csv show ``label(kind, code)`` (unless ``--codes``); every option that
takes a code takes its Chinese or English name too (``code_of``). Categories, contents and
programmes carry their names in the policy data (``ledger.policy``) and are read from there.
A rule's name (``Breach.rule``, ``RuleViolationError.rule``) is its own English label: kind
``rule`` labels any of them.
"""

from __future__ import annotations

import sys
from functools import cache
from types import SimpleNamespace
from typing import Any

from ledger.i18n import N_, Text, _

# kind -> code -> English name (the catalogue's message id)
NAMES: dict[str, dict[str, str]] = {
    "source": {"subsidy": N_("fiscal subsidy"), "matching": N_("matching funds")},
    "status": {
        "applied": N_("applied"),
        "approved": N_("approved"),
        "rejected": N_("rejected"),
        "closed": N_("closed"),
        "closing": N_("closing"),
    },
    "role": {
        "officer": N_("finance officer"),
        "approver": N_("approver"),
        "auditor": N_("auditor"),
        "admin": N_("administrator"),
    },
    # a programme's level (eligibility is judged per level)
    "level": {
        "district": N_("district"),
        "municipal": N_("municipal"),
        "national": N_("national"),
        "institute": N_("institute"),
    },
    # what a history line records (projections.acts.KINDS and the money kinds of projections.measures)
    "act": {
        "apply": N_("application"),
        "recommend": N_("recommendation"),
        "review": N_("expert review"),
        "notice": N_("public notice"),
        "approve": N_("approval"),
        "reject": N_("rejection"),
        "budget": N_("budget plan"),
        "budget_adjust": N_("budget adjustment"),
        "output": N_("output report"),
        "output_correct": N_("output report correction"),
        "evaluate": N_("evaluation"),
        "rectify_order": N_("rectification ordered"),
        "rectify_complete": N_("rectification completed"),
        "dossier": N_("dossier document"),
        "recover_order": N_("recovery ordered"),
        "close": N_("closure"),
        "resolve_objections": N_("objections resolved"),
        "extend": N_("build period extended"),
        "approved": N_("subsidy approved"),
        "committed": N_("matching committed"),
        "received": N_("received"),
        "spent": N_("spent"),
        "spend": N_("spent"),
        "reversed": N_("spending reversed"),
        "reverse": N_("spending reversed"),
        "recovered": N_("recovered"),
        "disposed": N_("balance disposed"),
        "unreceived": N_("receipt reversed"),
        "uncommitted": N_("commitment reversed"),
        "disburse": N_("disbursement"),
        "match_commit": N_("matching committed"),
        "match_receive": N_("matching received"),
        # the reversal of a receipt, as the movements and the history name it
        "reverse_disburse": N_("disbursement reversed"),
        "reverse_match_commit": N_("commitment reversed"),
        "reverse_match_receive": N_("receipt reversed"),
    },
    # what waits for an approver (grant pending)
    "step": {
        "recommend": N_("recommendation"),
        "review": N_("expert review"),
        "rereview_or_reject": N_("review again or reject"),
        "notice": N_("public notice"),
        "resolve_objections": N_("settle objections"),
        "approve": N_("approval or rejection"),
        "rectification": N_("rectification"),
    },
    "severity": {"refusal": N_("refusal"), "finding": N_("finding"), "warning": N_("warning")},
    "evaluation": {
        "mid_term": N_("mid-term evaluation"),
        "final": N_("final evaluation"),
        "third_party_audit": N_("third-party audit"),
        "performance": N_("performance evaluation"),
    },
    "result": {"pass": N_("passed"), "rectify": N_("to rectify"), "fail": N_("failed")},
    # a yearly output report's measures, as finding texts name them (the verifier names them alike)
    "measure": {
        "trainees": N_("trainees"),
        "advanced": N_("advanced"),
        "evaluations": N_("evaluations"),
        "advanced_evaluations": N_("advanced evaluations"),
    },
    # the figures an application declares (``grant apply --declared``), named by their codes in English
    "figure": {
        "trained": N_("trained"),
        "advanced": N_("advanced"),
        "capacity": N_("capacity"),
        "students": N_("students"),
        "teachers": N_("teachers"),
        "instructors": N_("instructors"),
        "senior_instructors": N_("senior_instructors"),
        "places": N_("places"),
        "integrated_teachers": N_("integrated_teachers"),
        "technician_instructors": N_("technician_instructors"),
        "skilled_workers": N_("skilled_workers"),
        "workforce": N_("workforce"),
        "partners": N_("partners"),
        "joint_majors": N_("joint_majors"),
    },
    # a municipal base's kind named at application (002 二(二))
    "track": {
        "international": N_("international cooperation"),
        "digital": N_("digital skills"),
        "other": N_("other"),
    },
    "unit_kind": {
        "technical_school": N_("technical school"),
        "senior_technical_school": N_("senior technical school"),
        "technician_college": N_("technician college"),
        "enterprise": N_("enterprise"),
        "training_institution": N_("training institution"),
        "public_base": N_("public training base"),
        "other": N_("other"),
    },
}


def label(kind: str, code: str) -> str:
    """``code``'s name in the current language; an unknown code is shown as it is. Kind ``rule``:
    a rule's name (any, its English name is its code)."""
    if kind == "rule":
        return _(code)
    if kind in POLICY_KINDS:
        named = _from_policy(kind, code)
        if named is None:
            return code
        from ledger.i18n import current

        return named.zh if current() == "zh" else named.en
    english = NAMES.get(kind, {}).get(code)
    return _(english) if english else code


# named in the policy data (zh and en), by the policy in force today
POLICY_KINDS = ("category", "content", "programme")


def _from_policy(kind: str, text: str) -> Any:
    if kind == "programme" and "ledger.policy" not in sys.modules:
        # a reading command that has not loaded the policy (the quick balance) names a programme
        # from the shipped files' names alone: loading the whole policy was about 7 ms of its 50
        named = _shipped_programmes().get(text)
        if named is not None:
            return named
    from ledger.policy import current_policy

    policy = current_policy()
    if kind == "category":
        return policy.find_category(text)
    if kind == "content":
        return policy.find_content(text)
    return policy.find_programme(text)


@cache
def _shipped_programmes() -> dict[str, SimpleNamespace]:
    """Each programme's names by its code, in the policy version in force today among those
    shipped (``ledger.policy.current_policy`` when no version is installed: a process that has
    not loaded the policy has opened no ledger, whose installed versions it would register), from
    ``ledger.programme_names`` (parsing the files was 7 ms of a 60 ms balance)."""
    from ledger.programme_names import SHIPPED

    latest: tuple[Any, dict[str, tuple[str, str]]] | None = None
    for _name, (effective_from, programmes) in sorted(SHIPPED.items()):
        # of one date, the last by file name, as load_policies has it
        if latest is None or effective_from >= latest[0]:
            latest = (effective_from, programmes)
    named = latest[1] if latest is not None else {}
    return {code: SimpleNamespace(code=code, zh=zh, en=en) for code, (zh, en) in named.items()}


def lazy(kind: str, code: str | None) -> Text | str:
    """``label(kind, code)`` rendered when read (a value of a :class:`ledger.i18n.Text`)."""
    english = NAMES.get(kind, {}).get(code or "")
    return Text(english, {}) if english else str(code)


def code_of(kind: str, text: str) -> str | None:
    """The code ``text`` names: the code itself, or its name in any language; None if none."""
    from ledger.i18n import LANGUAGES, _translations, catalogue_dir

    key = text.strip()
    if kind in POLICY_KINDS:
        found = _from_policy(kind, key)
        return None if found is None else str(found.code)
    names = NAMES.get(kind, {})
    if key in names:
        return key
    for code, english in names.items():
        if key.casefold() == english.casefold():
            return code
        for lang in LANGUAGES:
            if key == _translations("ledger", catalogue_dir(), lang).gettext(english):
                return code
    return None
