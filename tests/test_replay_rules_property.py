"""The verifier's replay judges the money rules exactly as the ledger's own rules do.

Each example builds a history through the ledger's actions (the command line: some acts are
refused, which writes nothing), exports it, then forges money events past the rules into
events.jsonl (any kind, amount, date, category, fund source; sometimes after a forged closure).
The ledger's verdict is its compliance judge (``projections.judge``: ``ledger.rules`` applied to
each stored event as the aggregate stood before it); the verifier's is ``audit verify``'s replay.
They must name the same event with the same rule, for every rule the verifier judges: ring-fence,
banned or unknown category, tranches within approval, the build period, recoveries within their
orders and dated after them, recoveries before a disposal, money only between approval and
closure, and an application approved once (the ledger's ``Grant.approve``: only an applied grant
is approved; a forged closure before the approval makes the approval the breach).
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.bundle import write_manifest
from audit.verifier.canonical import record_leaf_hash
from audit.verifier.verify import verify_bundle
from projections.judge import JudgedGrant, event_breaches, policy_on
from tests.conftest import Ledger, approved_district_grant, built, copy_of

RULES = (
    "ring-fence",
    "banned category",
    "permitted category",
    "tranches within approval",
    "approval first",
    "build period",
    "recovery within order",
    "recovery date",
    "recoveries before disposal",
)
RULES_CLOSED = (*RULES, "grant closed")
MONEY = (
    "SubsidyDisbursed",
    "MatchingCommitted",
    "MatchingReceived",
    "ExpenditureRecorded",
    "ExpenditureReversed",
    "FundsRecovered",
    "BalanceDisposed",
    "RecoveryOrdered",
)
GRANT = "grant-ledger:Grant."
DATES = ["2024-03-20", "2024-04-01", "2024-04-20", "2024-05-10", "2024-06-01", "2025-02-01"]
AMOUNTS = ["100.00", "8000.00", "50000.00", "150000.00", "500000.00"]


@pytest.fixture(scope="module")
def base() -> Ledger:
    return built("sqlite", approved_district_grant)


legal = st.one_of(
    st.tuples(st.just("disburse"), st.sampled_from(AMOUNTS), st.sampled_from(DATES[1:4])),
    st.tuples(st.just("match receive"), st.sampled_from(AMOUNTS), st.sampled_from(DATES[1:4])),
    st.tuples(st.just("spend"), st.sampled_from(AMOUNTS), st.sampled_from(DATES[1:])),
)


def _act(ledger: Ledger, n: int, act: tuple[str, str, str], source: str) -> None:
    kind, amount, on = act
    if kind == "disburse":
        ledger(
            "disburse", "G1", "--amount", amount, "--voucher", f"T{n}", "--tranche", str(n + 1), "--date", on
        )
    elif kind == "match receive":
        ledger("match", "receive", "G1", "--amount", amount, "--voucher", f"R{n}", "--date", on)
    else:
        ledger(
            "spend", "G1", "--amount", amount, "--category", "equipment", "--source", source,
            "--voucher", f"S{n}", "--date", on,
        )  # fmt: skip


forged = st.fixed_dictionaries(
    {
        "kind": st.sampled_from([*MONEY, "Closed"]),
        "amount": st.sampled_from(AMOUNTS),
        "on": st.sampled_from(DATES),
        "source": st.sampled_from(["subsidy", "matching"]),
        "category": st.sampled_from(
            ["equipment", "travel", "差旅费", "labour", "coffee", "实训设备购置、改造与维护"]
        ),
    }
)


def _state(f: dict[str, Any], n: int) -> dict[str, Any]:
    state: dict[str, Any] = {
        "actor": "forger",
        "role": "approver" if f["kind"] in ("Closed", "RecoveryOrdered") else "officer",
        "occurred_on": {"_data_": f["on"], "_type_": "date_iso"},
        "timestamp": {"_data_": "2026-01-05T00:00:00+00:00", "_type_": "datetime_iso"},
    }
    money = {"_data_": f["amount"], "_type_": "decimal_str"}
    if f["kind"] == "Closed":
        state["document"] = f"关{n}"
    elif f["kind"] in ("SubsidyDisbursed", "MatchingCommitted", "MatchingReceived", "FundsRecovered"):
        state |= {"amount": money, "voucher": f"F{n}", "tranche": 9, "funder": "某单位"}
    elif f["kind"] == "RecoveryOrdered":
        state |= {"amount": money, "reason": "forged", "document": f"F{n}"}
    elif f["kind"] == "BalanceDisposed":
        state |= {"amount": money, "source": f["source"], "how": "returned", "approval": f"F{n}"}
    else:
        state |= {
            "amount": money, "source": f["source"], "category": f["category"], "content": "training_system",
            "voucher": f"F{n}", "payee": "某公司", "memo": "", "project": "", "attachments": [],
            "reason": "forged", "spent_on": None,
        }  # fmt: skip
    return state


def _ledger_verdicts(lines: list[dict[str, Any]]) -> dict[int, str]:
    """leaf index -> the first rule (of those the verifier judges) the ledger's judge finds."""
    grants: dict[str, JudgedGrant] = {}
    verdicts: dict[int, str] = {}
    for line in lines:
        record = line["record"]
        topic: str = record["topic"]
        if not topic.startswith(GRANT):
            continue
        kind, data = topic[len(GRANT) :], record["state"]
        if kind == "Applied":
            stored = type("R", (), {"data": data, "aggregate_id": record["originator_id"]})
            grants[record["originator_id"]] = JudgedGrant.applied(stored)  # type: ignore[arg-type]
            continue
        grant = grants[record["originator_id"]]
        if kind == "Approved" and grant.status != "applied":
            verdicts[line["leaf_index"]] = "approval first"
        if kind in MONEY:
            policy = policy_on(date.fromisoformat(data["occurred_on"]["_data_"]))
            found = [b.rule for b in event_breaches(grant, kind, data, policy) if b.rule in RULES_CLOSED]
            if found:
                verdicts[line["leaf_index"]] = found[0]
        grant.advance(kind, data)
    return verdicts


def _verifier_verdicts(failures: list[str]) -> dict[int, str]:
    verdicts = {}
    for failure in failures:
        head, sep, rest = failure.partition("): replay: ")
        if sep:
            verdicts[int(head.rsplit("(leaf ", 1)[1])] = rest.split(":", 1)[0]
    return verdicts


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    acts=st.lists(st.tuples(legal, st.sampled_from(["subsidy", "matching"])), max_size=4),
    forgeries=st.lists(
        st.tuples(forged, st.integers(0, 1000), st.sampled_from([False] * 4 + [True])), min_size=1, max_size=4
    ),
)
def test_the_verifier_s_verdicts_equal_the_ledger_s_rules(
    base: Ledger, acts: list[Any], forgeries: list[tuple[dict[str, Any], int, bool]]
) -> None:
    with tempfile.TemporaryDirectory() as into:
        home = Path(into)
        ledger = copy_of(base, f"sqlite:///{home / 'ledger.db'}")
        for n, (act, source) in enumerate(acts):
            _act(ledger, n, act, source)
        ledger.ok("audit", "checkpoint", role="approver")  # signed with tester.approver's key
        ledger.ok("audit", "export", str(home / "b"), role="auditor")
        lines = [json.loads(x) for x in (home / "b" / "events.jsonl").read_text("utf-8").splitlines()]
        g1 = next(x["record"] for x in lines if x["record"]["topic"] == GRANT + "Applied")
        applied_at = next(n for n, x in enumerate(lines) if x["record"] is g1)
        approved_at = next(n for n, x in enumerate(lines) if x["record"]["topic"] == GRANT + "Approved")
        for n, (f, at, early) in enumerate(forgeries):
            record = {
                "originator_id": g1["originator_id"],
                "originator_version": 1000 + n,
                "topic": GRANT + f["kind"],
                "recorded_at": "2026-01-05T00:00:00+00:00",
                "state": _state(f, n),
            }
            after = applied_at if early else approved_at  # before the approval, or after it
            where = after + 1 + at % (len(lines) - after)
            lines.insert(where, {"leaf_index": 0, "event_id": 0, "leaf_hash": "", "record": record})
        for n, line in enumerate(lines):
            line["leaf_index"] = n
            line["leaf_hash"] = record_leaf_hash(line["record"]).hex()
        text = "".join(json.dumps(x, ensure_ascii=False, separators=(",", ":")) + "\n" for x in lines)
        (home / "b" / "events.jsonl").write_text(text, "utf-8")
        write_manifest(home / "b")
        report = verify_bundle(home / "b")
        assert _verifier_verdicts(report.failures) == _ledger_verdicts(lines), report.failures
