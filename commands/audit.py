"""``audit checkpoint|export|verify|prove``: the tamper-evident audit trail."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from commands.context import settings
from commands.dates import DATE
from commands.i18n import _
from commands.progress import Stages, progress
from ledger.errors import BadInputError, RuleViolationError, VerificationError

if TYPE_CHECKING:
    from commands.context import Settings
    from ledger.policy_book import InstalledFile


@click.group("audit")
def audit_group() -> None:
    """The Merkle log of every stored event, signed checkpoints, and bundles for auditors.

    \b
    Typical round:
      grant-ledger --key wang.key audit checkpoint > cp-2024-06.txt   # an approver
      grant-ledger audit export bundle-2024-06/
      grant-ledger audit verify bundle-2024-06/ --root TRUST_ROOT --trusted cp-2024-03.txt   # the auditor
    """


@audit_group.command("checkpoint")
def checkpoint_command() -> None:
    """Sign the audit log's current size and root with your key (an approver's: --key or
    GRANT_LEDGER_KEY), store the checkpoint and print it.

    Save the printed text: it is what an auditor passes to `audit verify --trusted` later to
    prove that nothing before it was edited, deleted, reordered or cut off.

    \b
    Example:
      grant-ledger --key wang.key audit checkpoint > checkpoint-2024-06-30.txt
    """
    from audit.trail import sign_head
    from ledger.labels import label
    from ledger.rules import business_today, raise_first, signer_holds_role

    s = settings()
    signer = s.signer()
    app = s.ledger()
    registry = app.trust.registry(fresh=True)
    person = registry.signer(signer.fingerprint)
    from ledger.policy import policy_in_force

    today = business_today()
    policy = policy_in_force(today)
    held = person.role_on(today) if person is not None else None
    raise_first([signer_holds_role(person, held, signer.fingerprint, today, s.role, s.actor, policy)])
    assert person is not None
    if held != "approver":
        raise RuleViolationError(
            _("{person} is registered as {role}; checkpoints are signed by an approver").format(
                person=person.name, role=label("role", held or "")
            ),
            rule="role",
            clause=policy.clause("roles").cite,
        )
    s.catch_up()
    signed = sign_head(s.engine(), signer.private_key, person.name)
    click.echo(signed.text, nl=False)
    if not signed.new:
        click.echo(signed.repeated(), err=True)


@audit_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--grant", "grant_id", help="only this grant's events in full (others: leaf hashes only)")
@click.option(
    "--as-of",
    type=DATE,
    help="only events with a business date up to this day in full (others: leaf hashes only)",
)
def export_command(directory: Path, grant_id: str | None, as_of: datetime | None) -> None:
    """Write an audit bundle to DIRECTORY (new or empty), up to the latest checkpoint.

    The bundle: events.jsonl, checkpoints/, keys/ (public), policy/, report.xlsx (balances per
    base, spending with vouchers, findings, event log with leaf hashes; a sheet longer than
    Excel's 1,048,576 rows goes on in "event log (2)"…) and MANIFEST (sha256). A large log is
    written by two processes: events.jsonl here, report.xlsx beside it.

    \b
    Examples:
      grant-ledger audit export bundle-2024-06/
      grant-ledger --role auditor audit export g1/ --grant G-YZ-2024-01 --as-of 2024-06-30
    """
    from audit.bundle import export
    from audit.log import has_log

    s = settings()
    s.ensure_current()
    engine = s.engine()
    if not has_log(engine):
        s.catch_up()
    bars = Stages()
    try:
        day = as_of.date() if as_of else None
        done = export(engine, directory, grant_id, day, bars, installed=_installed_files(s))
    finally:
        bars.close()
    click.echo(done.summary())


def _installed_files(s: Settings) -> list[InstalledFile]:
    """The policy files installed in the ledger, as it believes them (its sealed events), read
    afresh for the bundle; the ledger is opened only where it holds some (most hold none)."""
    from ledger.policy_installed import installed_count

    return s.ledger().installed_policy_files() if installed_count(s.engine()) else []


@audit_group.command("verify")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--trusted",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a checkpoint you saved earlier: the bundle must extend it",
)
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a public key you got from the ledger's keeper (not from a bundle): every checkpoint must "
    "be signed by it (repeat for rotated keys); without it, by the key that signed --trusted",
)
@click.option(
    "--root",
    "root",
    metavar="FINGERPRINT|FILE",
    help="the ledger's trust root (64 hex digits, printed by `grant-ledger init`, kept by you), or "
    "the root administrator's public key file (.pub): the people registry, hence every event's and "
    "checkpoint's signer, must descend from it",
)
@click.option(
    "--unanchored",
    is_flag=True,
    help="check only that the bundle is consistent with itself, held to no key you trust: its PASS "
    "proves nothing about who signed it (without this, a bundle held to nothing fails, exit 6)",
)
def verify_command(
    directory: Path, trusted: Path | None, public_keys: tuple[Path, ...], root: str | None, unanchored: bool
) -> None:
    """Check an audit bundle using only its files; print PASS or every failure (exit 6).

    Recomputes every leaf and root, checks the signatures and that each checkpoint extends the
    previous one and the trusted one, replays the events into balances to compare with
    report.xlsx, and checks that the workbook's event log shows the events of events.jsonl.
    Needs no database. Exit 0: PASS; exit 6: verification failed.

    Who did it: the people registry is replayed from the bundle's events, from its root
    administrator (--root pins the root's key). Every event must be signed by a person
    registered and unrevoked at that point of the log, with their key then, in a role that may
    record it on its business date; separation of duties must hold; events older than the
    ledger's adoption (`grant-ledger migrate`) are shown as adopted, not signed. Every checkpoint
    must be signed by an approver registered at its size (one no larger than the adoption may
    carry an older signature instead, by --public-key or the bundle's keys).

    The bundle's own keys/ and registry are never trusted: give --root, and (optionally)
    --public-key, which every checkpoint must then be signed by too. Without --root, the
    checkpoints must be signed by --public-key, or else by the key that signed the --trusted
    checkpoint. The people's signatures are then checked against the bundle's own registry,
    which anyone holding one trusted key could found anew: it passes only if the registry was
    founded within the --trusted checkpoint you kept (which the log extends). Otherwise, and with
    none of the three options, the bundle fails (exit 6) even when it is consistent with itself,
    saying what to give, unless you accept it as it is (--unanchored: the PASS says NOT ANCHORED).
    Anchors are files you kept apart from the bundle: one inside it is refused (exit 2).

    \b
    Example:
      grant-ledger audit verify bundle-2024-06/ --root 3f7a…e1 --trusted checkpoint-2024-03-31.txt
    """
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from audit.verifier.checkpoint import KeyFileError
    from audit.verifier.i18n import _ as verifier_text
    from audit.verifier.report import PROGRESS
    from audit.verifier.verify import verify_bundle
    from commands.context import work_begins

    work_begins()  # it opens no ledger: the verifier's work begins here
    root_file = Path(root) if root is not None and Path(root).is_file() else None
    anchors = [("--trusted", trusted), ("--root", root_file), *(("--public-key", key) for key in public_keys)]
    for option, path in anchors:
        if path is not None and path.resolve().is_relative_to(directory.resolve()):
            raise BadInputError(
                _(
                    "{option} {path} is a file of the bundle itself, which anyone who made the bundle "
                    "wrote: an anchor is what you kept apart from it (from an earlier visit, or the "
                    "ledger's keeper)"
                ).format(option=option, path=path)
            )
    if root_file is not None:
        from audit.verifier.checkpoint import load_public_key
        from audit.verifier.seals import key_fingerprint

        try:
            raw = load_public_key(root_file).public_bytes(Encoding.Raw, PublicFormat.Raw)
        except KeyFileError as e:
            raise BadInputError(_("--root: {why}").format(why=e.message.rstrip(".。"))) from None
        root = key_fingerprint(raw)
    if root is not None:
        root = trust_root(root)
    events = directory / "events.jsonl"
    length = events.stat().st_size if events.is_file() else 0
    try:
        with progress(length, verifier_text(PROGRESS)) as step:
            report = verify_bundle(directory, trusted, public_keys, step, root)
    except KeyFileError as e:
        raise VerificationError(e.message.rstrip(".。")) from None
    if report.failures:
        for line in report.failed(directory):
            click.echo(line)
        raise VerificationError(report.refusal(directory))
    if not report.anchored and not unanchored:
        raise VerificationError(report.unanchored(directory))
    if not report.people_anchored and not unanchored:
        raise VerificationError(report.people_unanchored(directory))
    for line in report.passed(trusted is not None):
        click.echo(line)


def trust_root(given: str) -> str:
    """A trust root as the auditor typed it: 64 hexadecimal digits (BadInputError otherwise)."""
    root = given.strip().lower()
    if len(root) != 64 or any(c not in "0123456789abcdef" for c in root):
        raise BadInputError(
            _("--root {root!r} is not a trust root: 64 hexadecimal digits, as `init` prints it").format(
                root=root
            )
        )
    return root


@audit_group.command("prove")
@click.argument("event_id")
def prove_command(event_id: str) -> None:
    """Print an inclusion proof of one event against the latest checkpoint.

    EVENT_ID is the store's event id (events.jsonl `event_id`, the workbook's event log) or
    ORIGINATOR_UUID:VERSION.

    \b
    Example:
      grant-ledger audit prove 42
    """
    from audit.trail import check_event_id, prove

    check_event_id(event_id)
    s = settings()
    s.ensure_current()
    click.echo(prove(s.engine(), event_id), nl=False)


def register(cli: click.Group) -> None:
    cli.add_command(audit_group)
