"""The bulk writer's fast encodings are byte for byte the general ones (hypothesis).

Stored history is read back by eventsourcing's own decoder, and voucher fingerprints live in
stored snapshots: a difference of one byte would make an import's events or a retry's
fingerprint differ from the same command recorded one by one.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.application import GrantLedger
from ledger.encoding import StateEncoder, fingerprint_body
from ledger.grant import Grant

texts = st.text(max_size=12)  # any unicode: quotes, backslashes, controls, 中文, surrogates excluded
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999999999.99"), places=2)
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
stamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


def _mapper() -> Any:
    return GrantLedger("sqlite:///:memory:").mapper


MAPPER = _mapper()
ENCODE = StateEncoder(MAPPER)


@settings(max_examples=150, deadline=None)
@given(
    amount=amounts,
    category=texts,
    source=texts,
    content=texts,
    voucher=texts,
    payee=texts,
    memo=texts,
    attachments=st.lists(texts, max_size=3),
    on=days,
    stamp=stamps,
    version=st.integers(1, 10**6),
)
def test_expenditure_state_is_the_general_encoders(
    amount: Decimal,
    category: str,
    source: str,
    content: str,
    voucher: str,
    payee: str,
    memo: str,
    attachments: list[str],
    on: date,
    stamp: datetime,
    version: int,
) -> None:
    event = Grant.ExpenditureRecorded(
        originator_id=uuid4(),
        originator_version=version,
        timestamp=stamp,
        amount=amount,
        category=category,
        source=source,
        content=content,
        project="",
        voucher=voucher,
        payee=payee,
        memo=memo,
        attachments=attachments,
        actor=payee,
        role="officer",
        occurred_on=on,
    )
    assert ENCODE(event) == MAPPER.to_stored_event(event)


@settings(max_examples=60, deadline=None)
@given(lines=st.dictionaries(texts, amounts, max_size=3), on=days, stamp=stamps)
def test_dicts_of_typed_values_are_the_general_encoders(
    lines: dict[str, Decimal], on: date, stamp: datetime
) -> None:
    event = Grant.BudgetRegistered(
        originator_id=uuid4(),
        originator_version=3,
        timestamp=stamp,
        lines=lines,
        actor="a",
        role="officer",
        occurred_on=on,
    )
    assert ENCODE(event) == MAPPER.to_stored_event(event)


@settings(max_examples=150, deadline=None)
@given(
    fields=st.dictionaries(
        texts,
        st.one_of(texts, amounts, days, st.integers(-(10**9), 10**9), st.none(), st.booleans()),
        max_size=8,
    )
)
def test_fingerprint_body_is_json_dumps(fields: dict[str, Any]) -> None:
    expected = json.dumps(fields, sort_keys=True, default=str, ensure_ascii=False)
    assert fingerprint_body(fields) == expected


any_stamps = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    st.datetimes(timezones=st.timezones()),
    st.datetimes(),
)
values = st.one_of(
    texts,
    amounts,
    days,
    any_stamps,
    st.uuids(),
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
)


@settings(max_examples=200, deadline=None)
@given(
    amount=st.one_of(amounts, values),
    bodies=st.lists(values, max_size=3),
    start=st.one_of(days, values),
    end=st.one_of(days, values),
    stamp=any_stamps,
    on=days,
)
def test_any_shape_of_values_is_the_general_encoders(
    amount: Any, bodies: list[Any], start: Any, end: Any, stamp: datetime, on: date
) -> None:
    """Each shape (the values' types) is planned once, then reused: every shape and its reuse
    give the general encoder's bytes, or fall back to it."""
    event = Grant.Approved(
        originator_id=uuid4(),
        originator_version=2,
        timestamp=stamp,
        amount=amount,
        document="批文",
        bodies=bodies,
        build_start=start,
        build_end=end,
        actor="a",
        role="officer",
        occurred_on=on,
    )
    general = MAPPER.to_stored_event(event)
    assert ENCODE(event) == general
    assert ENCODE(event) == general  # the shape's plan, now known


def test_events_rebuilt_from_their_state_are_encoded_the_same() -> None:
    """An event read back (its dict filled from the stored state) has the same shape."""
    event = Grant.ExpenditureRecorded(
        originator_id=uuid4(),
        originator_version=4,
        timestamp=datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
        amount=Decimal("12.30"),
        category="equipment",
        source="subsidy",
        content="",
        project="",
        voucher="V1",
        payee="",
        memo="",
        attachments=["a.pdf"],
        actor="a",
        role="officer",
        occurred_on=date(2024, 5, 1),
    )
    stored = ENCODE(event)
    again = MAPPER.to_domain_event(stored)
    assert ENCODE(again) == stored == MAPPER.to_stored_event(again)


@settings(max_examples=100, deadline=None)
@given(
    state=st.dictionaries(
        st.one_of(texts, st.integers()),
        st.one_of(values, st.dictionaries(texts, values, max_size=3), st.lists(values, max_size=2)),
        max_size=5,
    ),
    stamp=any_stamps,
)
def test_snapshot_states_are_the_general_encoders(state: dict[Any, Any], stamp: datetime) -> None:
    """Snapshots (an aggregate's dicts) are written the same; non-str keys take the general path."""
    snapshot = Grant.Snapshot(
        originator_id=uuid4(), originator_version=9, timestamp=stamp, topic="grant-ledger:Grant", state=state
    )
    general = MAPPER.to_stored_event(snapshot)
    assert ENCODE(snapshot) == general
    assert ENCODE(snapshot) == general


def test_a_grants_snapshot_is_the_general_encoders() -> None:
    from ledger.policy import policy_in_force

    policy = policy_in_force(date(2024, 3, 1))
    grant = Grant.create(
        grant_id="G1",
        unit_id="U1",
        base_id="B1",
        base_name="基地",
        programme="district_base",
        level="district",
        projects=[],
        requested=Decimal(200000),
        on=date(2024, 1, 2),
        actor="a",
        role="officer",
    )
    grant.approve(
        amount=Decimal("200000.00"),
        document="D-1",
        bodies=list(policy.programme("district_base").approving_bodies),
        build_start=None,
        build_end=None,
        on=date(2024, 1, 20),
        actor="a",
        role="officer",
        policy=policy,
        imported=True,
    )
    grant.disburse(
        amount=Decimal("200000.00"),
        voucher="T1",
        tranche=1,
        on=date(2024, 1, 21),
        actor="a",
        role="officer",
        policy=policy,
    )
    for n in range(3):
        grant.spend(
            amount=Decimal("10.50"),
            category="equipment",
            source="subsidy",
            content="training_system",
            project="",
            voucher=f"V{n}",
            payee="某公司",
            memo="",
            attachments=[],
            on=date(2024, 3, 1),
            actor="a",
            role="officer",
            policy=policy,
        )
    snapshot = Grant.Snapshot.take(grant)
    assert ENCODE(snapshot) == MAPPER.to_stored_event(snapshot)


def test_an_encoded_event_holds_no_more_memory_than_its_bytes() -> None:
    """A checking process holds a batch of thousands of encoded events: each must take about its
    own size (the bytes orjson returns kept the 4 KB buffer they were written in, 9x the event)."""
    import tracemalloc

    def event(n: int) -> Any:
        return Grant.ExpenditureRecorded(
            originator_id=uuid4(),
            originator_version=n + 2,
            timestamp=datetime(2024, 5, 1, tzinfo=UTC),
            amount=Decimal("1234.56"),
            category="equipment",
            source="subsidy",
            content="training_system",
            project="",
            voucher=f"V{n:06d}",
            payee="重庆某设备公司",
            memo="",
            attachments=[],
            actor="财务",
            role="officer",
            occurred_on=date(2024, 5, 1),
        )

    events = [event(n) for n in range(1000)]
    encoder = StateEncoder(MAPPER)
    encoder.row(events[0])  # its plan made once, outside the count
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        bodies = [encoder.row(e)[3] for e in events]
        held = (tracemalloc.get_traced_memory()[0] - before) / len(bodies)
    finally:
        tracemalloc.stop()
    size = sum(map(len, bodies)) / len(bodies)
    assert size < held < 2 * size, (size, held)


_json_leaf = st.one_of(
    st.text(max_size=6),  # lone surrogates included: orjson refuses their escapes
    st.integers(-(10**25), 10**25),  # past 64 bits orjson reads a float
    st.floats(),  # NaN and the infinities too: json reads them, orjson refuses them
    st.booleans(),
    st.none(),
)
_json_value = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(value=_json_value, ascii_only=st.booleans(), as_text=st.booleans(), cut=st.integers(0, 2))
@settings(max_examples=400, deadline=None)
def test_a_state_read_back_is_what_json_loads_reads(
    value: Any, ascii_only: bool, as_text: bool, cut: int
) -> None:
    """``json_state`` (orjson where it agrees) gives ``json.loads``'s value, to the type of every
    number and the order of every key, from bytes or text; what json refuses it refuses alike."""
    import json

    from ledger.encoding import json_state

    text = json.dumps(value, ensure_ascii=ascii_only)
    text = text[: len(text) - cut] if cut else text
    state: str | bytes = text if as_text else text.encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(text if as_text else state.decode("utf-8"))  # type: ignore[union-attr]
    except ValueError as refused:  # UnicodeDecodeError included
        with pytest.raises(type(refused)):
            json_state(state)
        return
    assert repr(json_state(state)) == repr(expected)


_any_text = st.text(
    st.characters(codec="utf-8") | st.sampled_from('"\\\x00\x1f\x7f\u2028\U0001f600\ufffd\ud800'),
    max_size=6,
)
_keyed_value = st.recursive(
    st.one_of(_any_text, st.integers(-(10**25), 10**25), st.floats(), st.booleans(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_any_text, inner, max_size=4)),
    max_leaves=16,
)


@given(value=_keyed_value, ascii_only=st.booleans(), as_text=st.booleans())
@settings(max_examples=400, deadline=None)
def test_a_states_canonical_text_is_the_one_the_audit_log_hashes(
    value: Any, ascii_only: bool, as_text: bool
) -> None:
    """``state_and_canonical`` gives ``json.loads``'s value and, where it gives a text, the very
    text the verifier's ``canonical_json`` writes of it: keys sorted at every level (code points
    either side of the surrogates included), every escape json writes, in json's forms; None where
    orjson would write otherwise (a float, an integer past 64 bits, a lone surrogate)."""
    import json

    from audit.verifier.canonical import canonical_json
    from ledger.encoding import state_and_canonical

    text = json.dumps(value, ensure_ascii=ascii_only)
    state: str | bytes = text if as_text else text.encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(text)
    except ValueError as refused:
        with pytest.raises(type(refused)):
            state_and_canonical(state)
        return
    parsed, canonical = state_and_canonical(state)
    assert repr(parsed) == repr(expected)
    if canonical is not None:
        assert canonical == canonical_json(expected)
    assert (canonical is not None) == _orjson_writes_as_json(expected), text


def _orjson_writes_as_json(value: Any) -> bool:
    """No float, no integer outside 64 bits, no lone surrogate in any text or key."""
    if isinstance(value, float):
        return False
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return -(2**63) <= value < 2**64
    if isinstance(value, str):
        return not any("\ud800" <= c <= "\udfff" for c in value)
    if isinstance(value, dict):
        return all(_orjson_writes_as_json(k) and _orjson_writes_as_json(v) for k, v in value.items())
    return all(_orjson_writes_as_json(v) for v in value)


def test_a_state_nested_deep_is_read_back_or_refused_as_json_does() -> None:
    """orjson reads on to 1024 levels where json gives up near the recursion limit: every depth
    about the limit is read or refused as json does (a red-team pass found a few levels, 994-997
    from a shallow stack, that orjson read alone)."""
    import json
    import sys

    from ledger.encoding import json_state

    def json_loads(state: bytes) -> Any:  # json.loads as deep in the stack as json_state calls it
        return json.loads(state.decode("utf-8"))

    limit = sys.getrecursionlimit()
    for depth in [2, 64, 65, *range(limit - 200, limit + 40)]:
        for text in ('{"a":' + "[" * depth + "]" * depth + "}", "[" * depth + "]" * depth):
            try:
                expected: Any = json_loads(text.encode())
            except RecursionError:
                with pytest.raises(RecursionError):
                    json_state(text.encode())
                continue
            assert json_state(text.encode()) == expected, depth
