"""``audit verify``: check a bundle with nothing but its files (and this package).

Checks, each failure naming the file, event or checkpoint:
1. MANIFEST: every file's sha256, and no file missing or unlisted;
2. events.jsonl: contiguous leaf indexes, each leaf recomputed from its record, per-aggregate
   versions in order;
3. checkpoints: signature by a key the auditor trusts (``--public-key``, else the key that signed
   the ``--trusted`` checkpoint; with neither, the bundle's own keys, which prove nothing), one
   origin, each checkpoint's root equal to the root recomputed over its first ``size`` leaves
   (so each is consistent with the next), the latest one covering every event;
4. the trusted checkpoint (kept by the auditor from an earlier visit): signed, and an RFC 9162
   consistency proof from it to the latest checkpoint of the bundle verifies;
5. the replay (audit/verifier/replay.py) breaks none of the money rules, under the bundle's policy
   file, which must be a version the verifier knows (audit/verifier/policy.py); every sheet of the
   workbook a person reads equals what the replay yields, cell by cell (audit/verifier/sheets.py);
6. the workbook's event log (every "event log" sheet) shows exactly the leaves of events.jsonl;
7. bundle.json states only what the rest of the bundle shows (audit/verifier/description.py);
8. who did it (audit/verifier/signatures.py): the people registry replayed from the bundle under the
   trust root the auditor pins (``--root``; else the bundle's own, which proves nothing), every
   event sealed by a person registered then, in a role that may record it, separation of duties,
   the adopted events of a migrated ledger, and every checkpoint signed by an approver registered
   at its size (or, no larger than the adoption, by a key of before: the auditor's or the bundle's).

One pass over events.jsonl does 2, 3, 4 and the replay, in memory that does not grow with the
bundle: the file is read in chunks; a line written by ``audit export`` is checked by hashing its
record's bytes as they stand (they are the canonical bytes, so the leaf hash matches only if nothing
was changed); any other line is parsed and encoded canonically. Roots at checkpoint sizes and the
consistency proof's subtrees come from compact ranges, not from a list of every leaf. A second pass,
in a second process for a large bundle, hashes events.jsonl for the manifest and encodes the event
log export would write for it, to compare with the workbook's sheets by digest; only a workbook
saved by another program is read cell by cell.

Here: the keys and checkpoints (3, 4) and the order of it all; 1 is ``manifest``, the pass over
events.jsonl (2, the replay and 8) is ``scan``, 5 is ``sheets``, 6 is ``workbook``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from audit.verifier.checkpoint import (
    Checkpoint,
    CheckpointError,
    Ed25519PublicKey,
    KeyFileError,
    load_public_key,
    parse_signed_checkpoint,
    verify_signed_checkpoint,
)
from audit.verifier.description import check_description
from audit.verifier.i18n import _
from audit.verifier.layout import EVENT_LOG_SHEET
from audit.verifier.manifest import check_files, check_manifest, compare_digest
from audit.verifier.merkle import consistency_ranges, verify_consistency
from audit.verifier.policy import bundle_policy
from audit.verifier.report import (
    ANCHOR_KEY,
    ANCHOR_KEYS,
    ANCHOR_ROOT,
    ANCHOR_TRUSTED,
    BUNDLE,
    EVENTS,
    Report,
    read_text,
)
from audit.verifier.scan import Scan, Tree, lines
from audit.verifier.sheets import check_sheets, sheet_names
from audit.verifier.workbook import PARALLEL_BYTES, EventLogJob, compare_event_log_values

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _bundle_keys(directory: Path, report: Report) -> list[Ed25519PublicKey]:
    keys = []
    for path in sorted((directory / "keys").glob("*.pub")):
        try:
            keys.append(load_public_key(path))
        except KeyFileError as e:
            report.fail(_("keys/{name}: {why}").format(name=path.name, why=e.message))
    if not keys:
        report.fail(_("keys: the bundle holds no public key"))
    return keys


def _anchors(
    directory: Path, trusted: Path | None, public_keys: Sequence[Path], root: str | None, report: Report
) -> list[Ed25519PublicKey]:
    """The keys every checkpoint must be signed by: the auditor's own (``--public-key``); else,
    with ``--root``, none beyond the registry's approvers (checked after the scan); else the key
    that signed the checkpoint the auditor kept (``--trusted``), found among the bundle's keys by
    that signature, which no other key can verify; else, unanchored, the bundle's own keys."""
    if public_keys:
        report.anchor = ANCHOR_KEYS if len(public_keys) > 1 else ANCHOR_KEY
        return [load_public_key(path) for path in public_keys]
    if root is not None:
        report.anchor = ANCHOR_ROOT
        return []
    if trusted is None:
        report.anchor = ""
        return _bundle_keys(directory, report)
    report.anchor = f"{ANCHOR_TRUSTED}:{trusted.name}"
    text = read_text(trusted, _trusted_name(trusted), report)
    if text is None:
        return []
    signers = [key for key in _bundle_keys(directory, report) if _verified(text, [key])[0] is not None]
    if not signers:
        report.fail(
            _(
                "trusted checkpoint {name}: no key of the bundle verifies its signature, so no "
                "key can be trusted: give its signer's public key with --public-key"
            ).format(name=trusted.name)
        )
    return signers


def _trusted_name(trusted: Path) -> str:
    return _("trusted checkpoint {name}").format(name=trusted.name)


def _verified(text: str, keys: list[Ed25519PublicKey]) -> tuple[Checkpoint | None, str]:
    """The checkpoint if one of ``keys`` signed it, else None and why."""
    why = _("no public key to check it with")
    for key in keys:
        try:
            return verify_signed_checkpoint(text, key), ""
        except CheckpointError as e:
            why = e.message
    return None, why


def _parsed(text: str, keys: list[Ed25519PublicKey], name: str, report: Report) -> Checkpoint | None:
    """The checkpoint in ``text``: its signature by one of ``keys`` checked (no keys: left to the
    people registry's approvers, after the scan)."""
    if keys:
        cp, why = _verified(text, keys)
        if cp is not None:
            return cp
        report.fail(
            _("{name}: signature check failed: not signed by {anchor}: {why}").format(
                name=name, anchor=report.anchor_text(), why=why
            )
        )
    try:
        return parse_signed_checkpoint(text).checkpoint
    except CheckpointError as e:
        if not keys:
            report.fail(_("{name}: {why}").format(name=name, why=e.message))
        return None


def _checkpoints(
    directory: Path, keys: list[Ed25519PublicKey], report: Report
) -> list[tuple[str, Checkpoint, str]]:
    cps: list[tuple[str, Checkpoint, str]] = []
    for path in sorted((directory / "checkpoints").glob("*.txt")):
        name = f"checkpoints/{path.name}"
        text = read_text(path, name, report)
        if text is None:
            continue
        cp = _parsed(text, keys, name, report)
        if cp is not None:
            cps.append((name, cp, text))
    report.checkpoints = len(cps)
    if not cps:
        report.fail(_("checkpoints: the bundle holds no signed checkpoint"))
    origins = {cp.origin for _, cp, _ in cps}
    if len(origins) > 1:
        report.fail(
            _("checkpoints: more than one log origin ({origins})").format(origins=", ".join(sorted(origins)))
        )
    for (a_name, a, _a), (b_name, b, _b) in itertools.pairwise(cps):
        if b.size < a.size:
            report.fail(
                _("{name}: tree size {size} is smaller than {before}'s {before_size} (log shrank)").format(
                    name=b_name, size=b.size, before=a_name, before_size=a.size
                )
            )
    return cps


def _trusted(
    trusted: Path, keys: list[Ed25519PublicKey], cps: list[tuple[str, Checkpoint, str]], report: Report
) -> tuple[Checkpoint | None, str]:
    text = read_text(trusted, _trusted_name(trusted), report)
    if text is None:
        return None, ""
    trusted_cp = _parsed(text, keys, _trusted_name(trusted), report)
    if trusted_cp is not None and cps and trusted_cp.origin != cps[-1][1].origin:
        report.fail(
            _("trusted checkpoint {name}: origin {origin!r} is another log's").format(
                name=trusted.name, origin=trusted_cp.origin
            )
        )
    return trusted_cp, text


def _signed_by_people(
    named: list[tuple[str, Checkpoint, str]], scan: Scan, legacy: list[Ed25519PublicKey], report: Report
) -> None:
    """Every checkpoint is signed by an approver registered, with that key, at its size; one of a
    log the ledger adopted (no larger than the adoption) may instead carry a signature made before
    people were registered, by ``legacy`` keys (the auditor's, else the bundle's: the adoption,
    signed under the root, pins those events anyway)."""
    signatures = scan.signatures
    adopted = signatures.adopted_size
    for name, cp, text in named:
        why = signatures.checkpoint(cp.size, text)
        if why is None:
            continue
        if adopted is not None and cp.size <= adopted and _verified(text, legacy)[0] is not None:
            continue
        report.fail(_("{name}: {why}").format(name=name, why=why))


def _legacy_keys(directory: Path, keys: list[Ed25519PublicKey]) -> list[Ed25519PublicKey]:
    return keys or _bundle_keys(directory, Report())


def verify_bundle(
    directory: Path,
    trusted: Path | None = None,
    public_keys: Sequence[Path] = (),
    progress: Callable[[int], None] | None = None,
    root: str | None = None,
) -> Report:
    """``public_keys``: keys the auditor holds; without them and without ``trusted``, signatures
    are checked against the bundle's own keys only (``report.anchor`` empty: proves nothing about
    who signed). ``root``: the trust root the auditor was given; without it the people registry
    is the bundle's own (``report.trust_root_pinned`` False: proves nothing about who acted)."""
    with ExitStack() as stack:
        return _verify(directory, trusted, public_keys, progress, root, stack)


def _verify(
    directory: Path,
    trusted: Path | None,
    public_keys: Sequence[Path],
    progress: Callable[[int], None] | None,
    root: str | None,
    stack: ExitStack,
) -> Report:
    report = Report()
    report.trust_root_pinned = root is not None
    if not check_files(directory, report):
        return report  # nothing read past an entry that is not a regular file
    listed = check_manifest(directory, report)
    keys = _anchors(directory, trusted, public_keys, root, report)
    # Checkpoints first, so the leaf scan can note the root at each checkpoint's size.
    named = _checkpoints(directory, keys, report)
    cps = [(name, cp) for name, cp, _ in named]
    trusted_cp, trusted_text = _trusted(trusted, keys, named, report) if trusted is not None else (None, "")
    latest = cps[-1][1] if cps else None

    ranges: list[tuple[int, int]] = []
    if trusted_cp is not None and latest is not None and 0 <= trusted_cp.size <= latest.size:
        ranges = consistency_ranges(trusted_cp.size, latest.size)
    tree = Tree({cp.size for _, cp in cps}, ranges)
    redaction = _redaction(directory, report)
    noted = {cp.size for _, cp in cps} | ({trusted_cp.size} if trusted_cp is not None else set())
    scan = Scan(report, tree, redaction.as_of, root, frozenset(noted))
    policy = bundle_policy(directory, report, directory / EVENTS, redaction.as_of)
    scan.replay.use_policy(policy)
    events_path = directory / EVENTS
    if events_path.is_file() and events_path.stat().st_size >= PARALLEL_BYTES:
        spending = scan.replay.spending
        spending.apart()  # beside the event-log check's process: the three share two cores
        stack.callback(spending.close)
    with EventLogJob(directory) as job:
        if not events_path.is_file():
            report.fail(_("{file}: missing").format(file=EVENTS))
        else:
            for raw in lines(events_path, progress):
                scan.line(raw)
        tree.finish()
        scan.signatures.finish(scan.included)
        log = job.result(report)
    founded = scan.signatures.founded_at
    report.founded_in_trusted = trusted_cp is not None and founded is not None and founded < trusted_cp.size
    if log is not None:
        compare_digest(EVENTS, log.events_sha256, listed, report)
    size = tree.frontier.size
    report.events = size
    report.root = tree.frontier.root()

    for name, cp in cps:
        if cp.size > size:
            report.fail(
                _(
                    "{name}: signed for {signed} events but the bundle has {size} (events cut off or deleted)"
                ).format(name=name, signed=cp.size, size=size)
            )
        elif tree.roots_at.get(cp.size) != cp.root:
            report.fail(
                _("{name}: root of the first {size} events differs from the signed root").format(
                    name=name, size=cp.size
                )
            )
    if latest is not None and latest.size < size:
        report.fail(
            _("{file}: {count} events after the latest checkpoint are covered by no signature").format(
                file=EVENTS, count=size - latest.size
            )
        )
    if trusted_cp is not None and trusted is not None:
        _check_trusted(trusted.name, trusted_cp, latest, tree, report)
    legacy = _legacy_keys(directory, keys)
    also = [(_trusted_name(trusted), trusted_cp, trusted_text)] if trusted_cp and trusted else []
    _signed_by_people([*named, *also], scan, legacy, report)
    _people_counts(scan, report)
    _check_withheld(redaction, scan, report)

    scan.finish()  # after the rest, as the second process encoding the spending sheet ends its part
    log_as_exported = log is not None and log.matches
    who = (scan.activity.rows(), scan.registry_rows)
    package = log.package if log is not None else None
    readable = check_sheets(
        directory, scan.replay, policy, size, report, log_as_exported, who, redaction.as_of, package
    )
    origin = latest.origin if latest is not None else None
    log_sheets = sheet_names(EVENT_LOG_SHEET, size)
    check_description(directory, report, scan.replay, origin, policy.name if policy else None, log_sheets)
    if log is not None and log.matches:
        report.event_log_rows = log.rows
    elif log is not None and readable:
        compare_event_log_values(directory, log.sheets, report)
    return report


@dataclass(frozen=True)
class Redaction:
    """What bundle.json says was left out: the business date it was cut at, and the aggregates
    withheld whole (their events' count each)."""

    as_of: str | None
    withheld: dict[str, int] | None


def _redaction(directory: Path, report: Report) -> Redaction:
    path = directory / BUNDLE
    text = read_text(path, BUNDLE, report) if path.is_file() else None
    if text is None:
        if not path.is_file():
            report.fail(_("{file}: missing").format(file=BUNDLE))
        return Redaction(None, None)
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        report.fail(_("{file}: not a JSON object").format(file=BUNDLE))
        return Redaction(None, None)
    as_of, withheld = meta.get("as_of"), meta.get("withheld_aggregates")
    if as_of is not None and not (isinstance(as_of, str) and _DATE.fullmatch(as_of)):
        report.fail(
            _("{file}: as_of {as_of!r} is not a date like 2024-06-30").format(file=BUNDLE, as_of=as_of)
        )
        as_of = None
    if withheld is not None and not (
        isinstance(withheld, dict)
        and all(isinstance(k, str) and type(v) is int and v > 0 for k, v in withheld.items())
    ):
        report.fail(
            _("{file}: withheld_aggregates is not a map of aggregate ids to event counts").format(file=BUNDLE)
        )
        withheld = None
    return Redaction(as_of, withheld)


def _check_withheld(redaction: Redaction, scan: Scan, report: Report) -> None:
    """A bundle withholds only aggregates it leaves out whole, and bundle.json names them."""
    report.as_of = redaction.as_of
    report.after_as_of = scan.after_as_of
    listed = redaction.withheld
    if listed is None:
        if report.withheld:
            report.fail(
                _("{file}: {count} events are withheld but no aggregate is listed as withheld").format(
                    file=BUNDLE, count=report.withheld
                )
            )
        return
    report.withheld_aggregates = len(listed)
    for originator, count in sorted(listed.items()):
        if originator in scan.versions:
            report.fail(
                _(
                    "{file}: {count} events of {aggregate} are withheld, yet the bundle includes that "
                    "aggregate: it must include all its events"
                ).format(file=BUNDLE, count=count, aggregate=scan.aggregate(originator))
            )
    if sum(listed.values()) != report.withheld:
        report.fail(
            _(
                "{file}: lists {listed} withheld events of {aggregates} aggregates, but {events} withholds "
                "{withheld}"
            ).format(
                file=BUNDLE,
                listed=sum(listed.values()),
                aggregates=len(listed),
                events=EVENTS,
                withheld=report.withheld,
            )
        )


def _check_trusted(
    name: str, trusted_cp: Checkpoint, latest: Checkpoint | None, tree: Tree, report: Report
) -> None:
    size = tree.frontier.size
    if trusted_cp.size > size:
        report.fail(
            _(
                "trusted checkpoint {name}: it covers {covered} events, the bundle only {size} (history "
                "cut off or rewritten)"
            ).format(name=name, covered=trusted_cp.size, size=size)
        )
    elif latest is not None and latest.size == size:
        proof = tree.proof()
        if proof is None or not verify_consistency(
            trusted_cp.size, latest.size, trusted_cp.root, latest.root, proof
        ):
            report.fail(
                _(
                    "trusted checkpoint {name}: the bundle's log of {size} events is not an extension of "
                    "the trusted {trusted} events (history rewritten)"
                ).format(name=name, size=latest.size, trusted=trusted_cp.size)
            )


def _people_counts(scan: Scan, report: Report) -> None:
    signatures = scan.signatures
    report.signed = signatures.signed
    report.adopted = signatures.adopted
    report.seals = signatures.seals
    report.trust_root = signatures.registry.root_fingerprint or ""
    report.people = len(signatures.registry.people)
