"""``audit export``: the bundle an auditor takes away and checks with ``audit verify`` alone.

Layout::

    bundle.json          what was exported (origin, tree size, filters)
    events.jsonl         one line per leaf, in leaf order: leaf_index, event_id, leaf_hash and the
                         event's record (see audit/canonical.py); events outside --grant/--as-of
                         are "withheld": only their leaf hash is given, so the root still checks
    checkpoints/NNNN.txt every signed checkpoint, oldest first
    keys/NAME.pub        the public key(s) that signed them
    policy/FILE.toml     the policy data in force
    report.xlsx          balances per base, spending with vouchers, findings, the event log
    MANIFEST             sha256 of every other file, as `sha256sum` prints them
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Engine

from audit.canonical import record_from_stored
from audit.checkpoint import key_id
from audit.log import ORIGIN, leaves, stored_checkpoints
from ledger.database import EVENTS_TABLE
from ledger.errors import BadInputError, NotFoundError
from ledger.policy import current_policy, policy_in_force, policy_text

FORMAT = 1
BALANCE_HEADERS = [
    "base_id",
    "grant_id",
    "base_name",
    "programme",
    "approved",
    "subsidy_received",
    "subsidy_spent",
    "subsidy_available",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "matching_available",
    "subsidy_recovered",
    "subsidy_disposed",
    "matching_disposed",
]
AMOUNT_FORMAT = "#,##0.00"


@dataclass(frozen=True)
class Exported:
    directory: Path
    size: int
    included: int
    checkpoints: int
    after_checkpoint: int


def _uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return UUID(bytes=bytes(value))
    return UUID(str(value))


def _rows(engine: Engine, size: int) -> Iterator[Any]:
    query = text(
        "SELECT l.leaf_index, l.notification_id, l.leaf_hash, e.originator_id, e.originator_version, "
        f"e.topic, e.state FROM {leaves.name} l JOIN {EVENTS_TABLE} e ON e.id = l.notification_id "
        "WHERE l.leaf_index < :size ORDER BY l.leaf_index"
    )
    with engine.connect() as conn:
        yield from conn.execution_options(yield_per=2000).execute(query, {"size": size})


def _occurred_on(state: dict[str, Any]) -> str | None:
    value = state.get("occurred_on")
    value = value.get("_data_") if isinstance(value, dict) else value
    return str(value) if value is not None else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path) -> None:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != "MANIFEST")
    lines = [f"{_sha256(p)}  {p.relative_to(directory).as_posix()}\n" for p in files]
    (directory / "MANIFEST").write_text("".join(lines), encoding="utf-8")


def export(
    engine: Engine,
    directory: Path,
    grant: str | None = None,
    as_of: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> Exported:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from audit.checkpoint import Ed25519PublicKey

    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BadInputError(f"{directory} exists and is not an empty directory; give a new one")
    with engine.connect() as conn:
        stored = stored_checkpoints(conn)
        total = conn.execute(select(leaves.c.leaf_index).order_by(leaves.c.leaf_index.desc())).first()
    if not stored:
        raise NotFoundError("no checkpoint has been signed yet; run `grant-ledger audit checkpoint` first")
    size = int(stored[-1].size)
    after = (int(total[0]) + 1 if total else 0) - size
    wanted: UUID | None = None
    if grant is not None:
        from ledger.grant import grant_uuid

        wanted = grant_uuid(grant)
    cutoff = as_of.isoformat() if as_of else None

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "checkpoints").mkdir()
    (directory / "keys").mkdir()
    (directory / "policy").mkdir()

    log_rows: list[tuple[Any, ...]] = []
    included_ids: set[str] = set()
    last_nid = 0
    found_grant = False
    with (directory / "events.jsonl").open("w", encoding="utf-8", newline="\n") as out:
        for row in _rows(engine, size):
            originator = _uuid(row.originator_id)
            state = bytes(row.state)
            record = record_from_stored(originator, row.originator_version, row.topic, state)
            keep = wanted is None or originator == wanted
            found_grant = found_grant or (wanted is not None and originator == wanted)
            if keep and cutoff is not None:
                on = _occurred_on(record["state"])
                keep = on is None or on <= cutoff
            line: dict[str, Any] = {
                "leaf_index": int(row.leaf_index),
                "event_id": int(row.notification_id),
                "leaf_hash": row.leaf_hash,
            }
            if keep:
                line["record"] = record
                included_ids.add(record["originator_id"])
            else:
                line["withheld"] = True
            out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
            log_rows.append(
                (
                    int(row.leaf_index),
                    int(row.notification_id),
                    record["recorded_at"],
                    row.topic,
                    record["originator_id"],
                    int(row.originator_version),
                    row.leaf_hash,
                    "yes" if keep else "withheld",
                )
            )
            last_nid = int(row.notification_id)
            if progress is not None:
                progress(1)
    if wanted is not None and not found_grant:
        raise NotFoundError(f"grant {grant} is not in the audit log")

    keys: dict[str, str] = {}
    for cp in stored:
        public_key = load_pem_public_key(cp.public_key.encode("ascii"))
        assert isinstance(public_key, Ed25519PublicKey)
        name = f"{cp.key_name}-{key_id(cp.key_name, public_key).hex()}.pub"
        keys[name] = cp.public_key
        (directory / "checkpoints" / f"{cp.seq:04d}.txt").write_text(cp.signed, encoding="utf-8")
    for name, pem in keys.items():
        (directory / "keys" / name).write_text(pem, encoding="utf-8")
    policy = policy_in_force(as_of) if as_of else current_policy()
    (directory / "policy" / policy.source).write_text(policy_text(policy), encoding="utf-8")

    _workbook(engine, directory / "report.xlsx", last_nid, included_ids, as_of, log_rows)
    meta = {
        "format": FORMAT,
        "origin": ORIGIN,
        "tree_size": size,
        "grant": grant,
        "as_of": cutoff,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "policy": policy.source,
    }
    (directory / "bundle.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    write_manifest(directory)
    return Exported(directory, size, len(included_ids), len(stored), after)


def _findings(engine: Engine, as_of: date | None) -> list[Any]:
    """The compliance projection's findings, judged on ``as_of`` (default today); none if this
    version has no compliance projection or it has not been built."""
    try:
        from projections.compliance import findings
    except ImportError:
        return []
    if not inspect(engine).has_table("compliance_grants"):
        return []
    return list(findings(engine, as_of or date.today()))


def _workbook(
    engine: Engine,
    path: Path,
    last_nid: int,
    originators: set[str],
    as_of: date | None,
    log_rows: list[tuple[Any, ...]],
) -> None:
    """The human workbook, from the read models (checked by the verifier's own replay)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from ledger.money import from_fen
    from projections.schema import grants, movements

    book = Workbook(write_only=True)
    sums: dict[str, dict[str, int]] = {}
    spending: list[Any] = []
    with engine.connect() as conn:
        grant_rows = [
            g
            for g in conn.execute(select(grants).order_by(grants.c.base_id, grants.c.grant_id))
            if str(UUID(hex=g.aggregate_id)) in originators
        ]
        query = select(movements).where(movements.c.notification_id <= last_nid)
        if as_of is not None:
            query = query.where(movements.c.occurred_on <= as_of)
        for m in conn.execute(query.order_by(movements.c.notification_id)):
            per = sums.setdefault(m.grant_id, {})
            per[m.measure] = per.get(m.measure, 0) + int(m.amount)
            if m.kind in ("spend", "reverse"):
                spending.append(m)

    def amount(fen: int) -> Any:
        cell = WriteOnlyCell(sheet, value=from_fen(fen))
        cell.number_format = AMOUNT_FORMAT
        return cell

    sheet = book.create_sheet("balances")
    sheet.append(BALANCE_HEADERS)
    wanted_grants = {g.grant_id for g in grant_rows}
    for g in grant_rows:
        per = sums.get(g.grant_id, {})
        f = {k: per.get(k, 0) for k in ("approved", "subsidy_received", "subsidy_spent")}
        f |= {k: per.get(k, 0) for k in ("matching_committed", "matching_received", "matching_spent")}
        f |= {k: per.get(k, 0) for k in ("subsidy_recovered", "subsidy_disposed", "matching_disposed")}
        sheet.append(
            [
                g.base_id,
                g.grant_id,
                g.base_name,
                g.programme,
                amount(f["approved"]),
                amount(f["subsidy_received"]),
                amount(f["subsidy_spent"]),
                amount(
                    f["subsidy_received"]
                    - f["subsidy_spent"]
                    - f["subsidy_recovered"]
                    - f["subsidy_disposed"]
                ),
                amount(f["matching_committed"]),
                amount(f["matching_received"]),
                amount(f["matching_spent"]),
                amount(f["matching_received"] - f["matching_spent"] - f["matching_disposed"]),
                amount(f["subsidy_recovered"]),
                amount(f["subsidy_disposed"]),
                amount(f["matching_disposed"]),
            ]
        )
    sheet = book.create_sheet("spending")
    sheet.append(
        [
            *("event_id", "date", "grant_id", "base_id", "kind", "source", "category", "content"),
            *("voucher", "amount", "actor"),
        ]
    )
    for m in spending:
        if m.grant_id in wanted_grants:
            sheet.append(
                [
                    m.notification_id,
                    m.occurred_on,
                    m.grant_id,
                    m.base_id,
                    m.kind,
                    m.source,
                    m.category,
                    m.content,
                    m.voucher,
                    amount(int(m.amount)),
                    m.actor,
                ]
            )
    sheet = book.create_sheet("findings")
    sheet.append(["base_id", "grant_id", "rule", "clause", "occurred_on", "message"])
    for finding in _findings(engine, as_of):
        if finding.grant_id in wanted_grants:
            sheet.append(
                [
                    finding.base_id,
                    finding.grant_id,
                    finding.rule,
                    finding.clause,
                    finding.occurred_on,
                    finding.message,
                ]
            )
    sheet = book.create_sheet("event log")
    sheet.append(
        [
            *("leaf_index", "event_id", "recorded_at", "topic", "originator_id", "version"),
            *("leaf_hash", "included"),
        ]
    )
    for log_row in log_rows:
        sheet.append(list(log_row))
    book.save(path)
