"""Who may record what, as the auditor checks it: each event kind, the ledger actions that record
it, the role each action needs, and separation of duties (四眼原则).

A copy of the ledger's table (``ledger.rules.ROLE_ACTIONS``), not an import of it: the verifier
shares no code with the write side it checks. tests/test_signed_audit.py holds the two equal.
"""

from __future__ import annotations

from audit.verifier.i18n import N_, _
from audit.verifier.people import FOUNDED, REGISTERED, REVOKED, ROTATED

ROLE_ACTIONS: dict[str, frozenset[str]] = {
    "officer": frozenset(
        {
            "unit register",
            "unit set-district",
            "grant apply",
            "grant budget",
            "disburse",
            "match commit",
            "match receive",
            "spend",
            "reverse",
            "recover receive",
            "dispose",
            "output report",
            "rectify complete",
            "dossier add",
        }
    ),
    "approver": frozenset(
        {
            "grant recommend",
            "grant review",
            "grant notice",
            "grant approve",
            "grant reject",
            "grant adjust",
            "grant extend",
            "evaluate",
            "rectify order",
            "recover order",
            "grant close",
            "grant resolve-objections",
        }
    ),
    "admin": frozenset({"people add", "people rotate", "people revoke", "policy install", "body add"}),
}

_G = "grant-ledger:Grant."
POLICY_OPENED = "grant-ledger:PolicyBook.Opened"  # ledger.policy_book.OPENED
POLICY_INSTALLED = "grant-ledger:PolicyBook.Installed"  # ledger.policy_book.INSTALLED
_U = "grant-ledger:Unit."
_R = "grant-ledger:RecommendationRound."
_B = "grant-ledger:Bodies."
_BASE = "grant-ledger:Base."

# The actions that record each kind of event. ``grant approve`` also brings in a grant approved
# elsewhere (an import): its unit, base and application come with its approval, in one seal.
TOPIC_ACTIONS: dict[str, tuple[str, ...]] = {
    _U + "Registered": ("unit register", "grant approve"),
    _U + "DistrictSet": ("unit set-district",),
    _U + "BaseTaken": ("grant apply", "grant approve"),
    _U + "BaseReleased": ("grant reject",),
    _BASE + "Taken": ("grant apply", "grant approve"),
    _BASE + "TakenAgain": ("grant apply", "grant approve"),
    _BASE + "Released": ("grant reject",),
    _R + "Opened": ("grant recommend",),
    _R + "Made": ("grant recommend",),
    _G + "Applied": ("grant apply", "grant approve"),
    _G + "Approved": ("grant approve",),
    _G + "SubsidyDisbursed": ("disburse",),
    _G + "MatchingCommitted": ("match commit",),
    _G + "MatchingReceived": ("match receive",),
    _G + "ExpenditureRecorded": ("spend",),
    _G + "ExpenditureReversed": ("reverse",),
    _G + "DisbursementReversed": ("reverse",),
    _G + "MatchingCommitmentReversed": ("reverse",),
    _G + "MatchingReceiptReversed": ("reverse",),
    _G + "Recommended": ("grant recommend",),
    _G + "ReviewRecorded": ("grant review",),
    _G + "NoticeRecorded": ("grant notice",),
    _G + "Rejected": ("grant reject",),
    _G + "BudgetRegistered": ("grant budget",),
    _G + "BudgetAdjusted": ("grant adjust",),
    _G + "Extended": ("grant extend",),
    _G + "OutputReported": ("output report",),
    _G + "EvaluationRecorded": ("evaluate",),
    _G + "RectificationOrdered": ("rectify order",),
    _G + "RectificationCompleted": ("rectify complete",),
    _G + "DossierRecorded": ("dossier add",),
    _G + "RecoveryOrdered": ("recover order",),
    _G + "FundsRecovered": ("recover receive",),
    _G + "BalanceDisposed": ("dispose",),
    _G + "Closed": ("grant close",),
    _G + "ObjectionsResolved": ("grant resolve-objections",),
    _B + "Opened": ("body add",),
    _B + "Added": ("body add",),
    FOUNDED: ("init",),
    REGISTERED: ("people add",),
    ROTATED: ("people rotate",),
    REVOKED: ("people revoke",),
    POLICY_OPENED: ("policy install",),
    POLICY_INSTALLED: ("policy install",),
}

APPLIED = _G + "Applied"
APPROVED = _G + "Approved"
# the steps that check an application: not by whoever recorded it
_CHECKING = ("ReviewRecorded", "NoticeRecorded", "Approved", "Rejected", "Recommended", "ObjectionsResolved")
CHECKS_APPLICATION = frozenset(_G + kind for kind in _CHECKING)
_STEP = {
    "ReviewRecorded": N_(
        "separation of duties: {actor} recorded this grant's application and may not also record its review"
    ),
    "NoticeRecorded": N_(
        "separation of duties: {actor} recorded this grant's application and may not also record its notice"
    ),
    "Approved": N_(
        "separation of duties: {actor} recorded this grant's application and may not also record its approval"
    ),
    "Rejected": N_(
        "separation of duties: {actor} recorded this grant's application and may not also "
        "record its rejection"
    ),
    "Recommended": N_(
        "separation of duties: {actor} recorded this grant's application and may not also "
        "record its recommendation"
    ),
    "ObjectionsResolved": N_(
        "separation of duties: {actor} recorded this grant's application and may not also "
        "record its settling of objections"
    ),
}
RECTIFY_ORDER, RECTIFY_DONE = _G + "RectificationOrdered", _G + "RectificationCompleted"
RECOVER_ORDER, RECOVER_DONE = _G + "RecoveryOrdered", _G + "FundsRecovered"
# the events separation of duties reads or judges
DUTY_TOPICS = CHECKS_APPLICATION | {APPLIED, RECTIFY_ORDER, RECTIFY_DONE, RECOVER_ORDER, RECOVER_DONE}


def _roles(topic: str) -> frozenset[str]:
    actions = TOPIC_ACTIONS.get(topic, ())
    return frozenset(role for role, allowed in ROLE_ACTIONS.items() if allowed.intersection(actions))


_ROLES = {topic: _roles(topic) for topic in TOPIC_ACTIONS}
_NO_ONE: frozenset[str] = frozenset()


def roles_for(topic: str) -> frozenset[str]:
    """The roles that may record an event of ``topic`` (none: a kind the verifier does not know)."""
    return _ROLES.get(topic, _NO_ONE)


def action_of(topic: str) -> str:
    actions = TOPIC_ACTIONS.get(topic)
    return actions[0] if actions else topic.split(":")[-1]


class Duties:
    """Who recorded what on each grant, as the events go by: the application's recorder (and the
    seal of that act), each rectification's and recovery's orderers."""

    def __init__(self) -> None:
        self._applied: dict[str, tuple[str, str]] = {}  # grant -> (actor, seal)
        self._ordered: dict[tuple[str, str], set[str]] = {}  # (grant, ref or "recover") -> actors

    def check(self, grant: str, topic: str, actor: str, seal: str, ref: str) -> str | None:
        """The breach, if ``actor`` recording ``topic`` on ``grant`` checks their own act."""
        if topic in CHECKS_APPLICATION:
            applied = self._applied.get(grant)
            # a grant approved elsewhere is brought in whole by one act (its application with it)
            if applied is not None and applied[0] == actor and applied[1] != seal:
                return _(_STEP[topic.removeprefix(_G)]).format(actor=actor)
        elif topic == RECTIFY_DONE and actor in self._ordered.get((grant, f"rectify {ref}"), ()):
            return _(
                "separation of duties: {actor} ordered rectification {ref} and may not record its completion"
            ).format(actor=actor, ref=ref)
        elif topic == RECOVER_DONE and actor in self._ordered.get((grant, "recover"), ()):
            return _(
                "separation of duties: {actor} ordered this recovery and may not record its receipt"
            ).format(actor=actor)
        return None

    def record(self, grant: str, topic: str, actor: str, seal: str, ref: str) -> None:
        if topic == APPLIED:
            self._applied[grant] = (actor, seal)
        elif topic == RECTIFY_ORDER:
            self._ordered.setdefault((grant, f"rectify {ref}"), set()).add(actor)
        elif topic == RECOVER_ORDER:
            self._ordered.setdefault((grant, "recover"), set()).add(actor)
