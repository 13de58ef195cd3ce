"""``audit verify``: check a bundle with nothing but its files (and this package).

Checks, each failure naming the file, event or checkpoint:
1. MANIFEST: every file's sha256, and no file missing or unlisted;
2. events.jsonl: contiguous leaf indexes, each leaf recomputed from its record, per-aggregate
   versions in order;
3. checkpoints: signature by a key of the bundle (or the auditor's own ``--public-key``), one
   origin, each checkpoint's root equal to the root recomputed over its first ``size`` leaves
   (so each is consistent with the next), the latest one covering every event;
4. the trusted checkpoint (kept by the auditor from an earlier visit): signed, and an RFC 9162
   consistency proof from it to the latest checkpoint of the bundle verifies;
5. balances replayed from the records (audit/replay.py) equal the workbook's balances sheet.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from audit.canonical import CanonicalError, record_leaf_hash
from audit.checkpoint import (
    Checkpoint,
    CheckpointError,
    Ed25519PublicKey,
    KeyFileError,
    load_public_key,
    parse_signed_checkpoint,
    verify_signed_checkpoint,
)
from audit.merkle import CompactRange, consistency_proof, verify_consistency
from audit.replay import MEASURES, Replay, ReplayError

CENT = Decimal("0.01")


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    events: int = 0
    withheld: int = 0
    checkpoints: int = 0
    grants: int = 0
    root: bytes = b""

    def fail(self, message: str) -> None:
        self.failures.append(message)


def _check_manifest(directory: Path, report: Report) -> None:
    manifest = directory / "MANIFEST"
    if not manifest.is_file():
        report.fail("MANIFEST: missing")
        return
    listed: dict[str, str] = {}
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            report.fail(f"MANIFEST line {n}: not '<sha256>  <file>'")
            continue
        listed[name] = digest
    present = {
        p.relative_to(directory).as_posix()
        for p in directory.rglob("*")
        if p.is_file() and p.name != "MANIFEST"
    }
    for name in sorted(set(listed) - present):
        report.fail(f"MANIFEST: {name} is listed but missing from the bundle")
    for name in sorted(present - set(listed)):
        report.fail(f"MANIFEST: {name} is in the bundle but not listed")
    for name in sorted(set(listed) & present):
        digest = hashlib.sha256((directory / name).read_bytes()).hexdigest()
        if digest != listed[name]:
            report.fail(f"MANIFEST: sha256 of {name} differs from the manifest (file changed)")


def _keys(directory: Path, trusted_key: Path | None, report: Report) -> list[Ed25519PublicKey]:
    if trusted_key is not None:
        return [load_public_key(trusted_key)]
    keys = []
    for path in sorted((directory / "keys").glob("*.pub")):
        try:
            keys.append(load_public_key(path))
        except KeyFileError as e:
            report.fail(f"keys/{path.name}: {e.message}")
    if not keys:
        report.fail("keys: the bundle holds no public key")
    return keys


def _verified(text: str, keys: list[Ed25519PublicKey]) -> tuple[Checkpoint | None, str]:
    """The checkpoint if one of ``keys`` signed it, else None and why."""
    why = "no public key to check it with"
    for key in keys:
        try:
            return verify_signed_checkpoint(text, key), ""
        except CheckpointError as e:
            why = e.message
    return None, why


def verify_bundle(
    directory: Path,
    trusted: Path | None = None,
    public_key: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Report:
    report = Report()
    _check_manifest(directory, report)
    keys = _keys(directory, public_key, report)

    # Checkpoints first, so the leaf scan can note the root at each checkpoint's size.
    cps: list[tuple[str, Checkpoint]] = []
    for path in sorted((directory / "checkpoints").glob("*.txt")):
        name = f"checkpoints/{path.name}"
        text = path.read_text(encoding="utf-8")
        cp, why = _verified(text, keys)
        if cp is None:
            report.fail(f"{name}: signature check failed: {why}")
            try:
                cp = parse_signed_checkpoint(text).checkpoint
            except CheckpointError:
                continue
        cps.append((name, cp))
    report.checkpoints = len(cps)
    if not cps:
        report.fail("checkpoints: the bundle holds no signed checkpoint")
    origins = {cp.origin for _, cp in cps}
    if len(origins) > 1:
        report.fail(f"checkpoints: more than one log origin ({', '.join(sorted(origins))})")
    for (a_name, a), (b_name, b) in itertools.pairwise(cps):
        if b.size < a.size:
            report.fail(f"{b_name}: tree size {b.size} is smaller than {a_name}'s {a.size} (log shrank)")

    trusted_cp: Checkpoint | None = None
    if trusted is not None:
        text = trusted.read_text(encoding="utf-8")
        trusted_cp, why = _verified(text, keys)
        if trusted_cp is None:
            report.fail(f"trusted checkpoint {trusted.name}: signature check failed: {why}")
            try:
                trusted_cp = parse_signed_checkpoint(text).checkpoint
            except CheckpointError as e:
                report.fail(f"trusted checkpoint {trusted.name}: {e.message}")
        if trusted_cp is not None and cps and trusted_cp.origin != cps[-1][1].origin:
            report.fail(f"trusted checkpoint {trusted.name}: origin {trusted_cp.origin!r} is another log's")

    wanted_sizes = {cp.size for _, cp in cps}
    roots_at: dict[int, bytes] = {0: CompactRange().root()}
    hashes: list[bytes] = []
    frontier = CompactRange()
    replay = Replay()
    versions: dict[str, int] = {}
    events_path = directory / "events.jsonl"
    if not events_path.is_file():
        report.fail("events.jsonl: missing")
    else:
        with events_path.open("rb") as handle:
            for n, raw in enumerate(handle):
                if progress is not None:
                    progress(len(raw))
                where = f"events.jsonl line {n + 1}"
                try:
                    line = json.loads(raw)
                    index, event_id, stated = line["leaf_index"], line["event_id"], line["leaf_hash"]
                    stated_hash = bytes.fromhex(stated)
                except (ValueError, KeyError, TypeError):
                    report.fail(f"{where}: not a JSON event line with leaf_index, event_id, leaf_hash")
                    continue
                where = f"event {event_id} (leaf {index})"
                if index != n:
                    report.fail(
                        f"{where}: found at position {n}: an event was deleted, inserted or reordered"
                    )
                record = line.get("record")
                if record is None:
                    if not line.get("withheld"):
                        report.fail(f"{where}: neither a record nor marked withheld")
                    report.withheld += 1
                    leaf = stated_hash
                else:
                    try:
                        leaf = record_leaf_hash(record)
                    except (CanonicalError, TypeError, ValueError) as e:
                        report.fail(f"{where}: record cannot be encoded ({e})")
                        leaf = stated_hash
                    if leaf != stated_hash:
                        report.fail(f"{where}: recomputed leaf hash differs from the exported one (edited)")
                    originator = str(record.get("originator_id"))
                    version = record.get("originator_version")
                    before = versions.get(originator, 0)
                    if not isinstance(version, int) or version <= before:
                        report.fail(
                            f"{where}: version {version} of {originator} comes after version {before} "
                            "(reordered or replayed)"
                        )
                    else:
                        versions[originator] = version
                    try:
                        replay.feed(record)
                    except ReplayError as e:
                        report.fail(f"{where}: replay: {e.message}")
                hashes.append(leaf)
                frontier = frontier.append(leaf)
                if frontier.size in wanted_sizes:
                    roots_at[frontier.size] = frontier.root()
        report.events = frontier.size
        report.root = frontier.root()

    for name, cp in cps:
        if cp.size > frontier.size:
            report.fail(
                f"{name}: signed for {cp.size} events but the bundle has {frontier.size} "
                "(events cut off or deleted)"
            )
        elif roots_at.get(cp.size) != cp.root:
            report.fail(f"{name}: root of the first {cp.size} events differs from the signed root")
    if cps and cps[-1][1].size < frontier.size:
        report.fail(
            f"events.jsonl: {frontier.size - cps[-1][1].size} events after the latest checkpoint "
            "are covered by no signature"
        )

    if trusted_cp is not None and trusted is not None:
        latest = cps[-1][1] if cps else None
        if trusted_cp.size > frontier.size:
            report.fail(
                f"trusted checkpoint {trusted.name}: it covers {trusted_cp.size} events, the bundle only "
                f"{frontier.size} (history cut off or rewritten)"
            )
        elif latest is not None and latest.size == frontier.size:
            proof = consistency_proof(trusted_cp.size, hashes)
            if not verify_consistency(trusted_cp.size, latest.size, trusted_cp.root, latest.root, proof):
                report.fail(
                    f"trusted checkpoint {trusted.name}: the bundle's log of {latest.size} events is not "
                    f"an extension of the trusted {trusted_cp.size} events (history rewritten)"
                )

    _compare_balances(directory, replay, report)
    return report


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value)).quantize(CENT)
    except InvalidOperation:
        return None


def _compare_balances(directory: Path, replay: Replay, report: Report) -> None:
    path = directory / "report.xlsx"
    if not path.is_file():
        report.fail("report.xlsx: missing")
        return
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
        sheet = book["balances"]
        rows = list(sheet.iter_rows(values_only=True))
        book.close()
    except Exception as e:  # any unreadable workbook is one failure, not a traceback
        report.fail(f"report.xlsx: cannot read its balances sheet ({type(e).__name__})")
        return
    if not rows:
        report.fail("report.xlsx balances: empty sheet")
        return
    header = [str(h) for h in rows[0]]
    needed = ["grant_id", *MEASURES]
    if any(h not in header for h in needed):
        report.fail(f"report.xlsx balances: header lacks {', '.join(h for h in needed if h not in header)}")
        return
    col = {h: header.index(h) for h in header}
    replayed = replay.by_grant()
    report.grants = len(replayed)
    seen: set[str] = set()
    for n, row in enumerate(rows[1:], 2):
        grant_id = str(row[col["grant_id"]])
        seen.add(grant_id)
        totals = replayed.get(grant_id)
        if totals is None:
            report.fail(f"report.xlsx balances row {n}: grant {grant_id} has no application in events.jsonl")
            continue
        measures = {m: totals.amounts[m].quantize(CENT) for m in MEASURES}
        measures["subsidy_available"] = (
            measures["subsidy_received"]
            - measures["subsidy_spent"]
            - measures["subsidy_recovered"]
            - measures["subsidy_disposed"]
        )
        measures["matching_available"] = (
            measures["matching_received"] - measures["matching_spent"] - measures["matching_disposed"]
        )
        for measure, expected in measures.items():
            if measure not in col:
                continue
            shown = _decimal(row[col[measure]])
            if shown != expected:
                report.fail(
                    f"report.xlsx balances row {n}: grant {grant_id} {measure} is {shown} in the workbook "
                    f"but {expected} by replaying the events"
                )
    for grant_id in sorted(set(replayed) - seen):
        report.fail(f"report.xlsx balances: grant {grant_id} is in the events but not in the workbook")
