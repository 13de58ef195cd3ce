"""What a verification found (``Report``), and the bundle's files it reads."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from audit.verifier.i18n import N_, _

EVENTS = "events.jsonl"
BUNDLE = "bundle.json"
WORKBOOK = "report.xlsx"
CHUNK = 1 << 22
PROGRESS = N_("verifying events")  # the progress bar's label while events.jsonl is read


# Report.anchor: one of these codes ("trusted:NAME" names the trusted checkpoint's file)
ANCHOR_KEY, ANCHOR_KEYS, ANCHOR_ROOT, ANCHOR_TRUSTED = "key", "keys", "root", "trusted"
ANCHORS = {
    ANCHOR_KEY: N_("your public key"),
    ANCHOR_KEYS: N_("your public keys"),
    ANCHOR_ROOT: N_("approvers registered under the trust root"),
}


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    events: int = 0
    withheld: int = 0
    checkpoints: int = 0
    grants: int = 0
    root: bytes = b""
    event_log_rows: int = 0
    withheld_aggregates: int = 0
    as_of: str | None = None
    after_as_of: int = 0  # events of included aggregates dated after as_of: shown, not replayed
    anchor: str = ""  # whose keys the signatures were checked against (ANCHORS); "" the bundle's own
    trust_root: str = ""  # the fingerprint of the bundle's people registry's root
    trust_root_pinned: bool = False  # the auditor gave it (--root): the registry is anchored
    # the registry was founded within the trusted checkpoint the auditor kept, which the log extends
    founded_in_trusted: bool = False
    signed: int = 0  # events signed by a registered person in a role that may record them
    adopted: int = 0  # events before the ledger's adoption: adopted, not signed
    seals: int = 0
    people: int = 0

    def fail(self, message: str) -> None:
        """One line, whatever the bundle holds: a character that does not print (a control
        character, a lone surrogate no encoding can write) is shown escaped; spaces stay."""
        if not message.isprintable():
            message = "".join(
                c if c.isprintable() or unicodedata.category(c) == "Zs" else repr(c)[1:-1] for c in message
            )
        self.failures.append(message)

    def failed(self, directory: Path) -> list[str]:
        """What ``audit verify`` prints when the bundle fails: ``FAIL`` (kept in every language,
        scripts look for it), the count, then every failure."""
        head = _("FAIL: {count} problem(s) in {directory}").format(
            count=len(self.failures), directory=directory
        )
        return [head, *(f"  - {failure}" for failure in self.failures)]

    @property
    def people_anchored(self) -> bool:
        """Whether the people registry descends from a root the auditor holds: pinned (--root), or
        founded within the checkpoint they kept (--trusted), so its founding is the ledger's own."""
        return self.trust_root_pinned or self.founded_in_trusted

    def people_unanchored(self, directory: Path) -> str:
        """The one sentence on standard error when a bundle passes against the auditor's key, but
        its events are signed by the people of a registry nothing the auditor holds anchors: whoever
        holds one such key could found a registry of their own and sign every other act."""
        return _(
            "the bundle {directory} is signed by a key you trust, but its events are signed by the "
            "people of its own registry (trust root {root}), which nothing you hold ties to the "
            "ledger: give --root FINGERPRINT (the trust root `grant-ledger init` printed, from the "
            "ledger's keeper), or a --trusted checkpoint you kept that covers the registry's founding; "
            "--unanchored accepts it as it is"
        ).format(directory=directory, root=self.trust_root)

    @property
    def anchored(self) -> bool:
        """Whether the auditor brought anything the bundle was held to (--root, --public-key,
        --trusted): without, it was checked against its own keys, which anyone can forge."""
        return bool(self.anchor)  # set for --root too (ANCHOR_ROOT)

    def unanchored(self, directory: Path) -> str:
        """The one sentence on standard error when a bundle that is consistent with itself was
        held to nothing the auditor trusts (it does not pass: DESIGN, the bundle's own keys are
        never a trust anchor)."""
        return _(
            "the bundle {directory} is consistent with itself ({events} events, {checkpoints} "
            "checkpoints), but nothing ties it to a key you trust, and anyone can sign a bundle with "
            "keys of their own: give --root FINGERPRINT (the trust root `grant-ledger init` printed, "
            "from the ledger's keeper), --trusted CHECKPOINT or --public-key KEY; --unanchored "
            "checks its internal consistency only"
        ).format(directory=directory, events=self.events, checkpoints=self.checkpoints)

    def refusal(self, directory: Path) -> str:
        """The one sentence on standard error when the bundle fails."""
        return _("the bundle {directory} failed verification ({count} problems)").format(
            directory=directory, count=len(self.failures)
        )

    def passed(self, trusted: bool) -> list[str]:
        """What ``audit verify`` prints when the bundle passes: ``PASS`` (kept in every language),
        how far it is anchored, what was checked, who signed, and what is not anchored."""
        anchored, people = self.anchored, self.people_anchored
        status = (
            _("PASS")
            if anchored and people
            else _("PASS (internal consistency only)")
            if not anchored and not people
            else _("PASS (people NOT ANCHORED)")
            if anchored
            else _("PASS (checkpoints NOT ANCHORED)")
        )
        events = (
            _("{events} events ({withheld}), {checkpoints} checkpoints signed by {anchor}, root {root}")
            if anchored
            else _(
                "{events} events ({withheld}), {checkpoints} checkpoints signed by keys of the bundle "
                "itself, root {root}"
            )
        ).format(
            events=self.events,
            withheld=self._withheld(),
            checkpoints=self.checkpoints,
            anchor=self.anchor_text(),
            root=self.root.hex(),
        )
        if trusted:
            events = _("{events}, consistent with the trusted checkpoint").format(events=events)
        balances = (
            _(
                "balances of {grants} grants as of {as_of} ({later} later events of theirs shown, not "
                "replayed) match the workbook and its event log of {rows} events matches events.jsonl"
            )
            if self.as_of
            else _(
                "balances of {grants} grants match the workbook and its event log of {rows} events "
                "matches events.jsonl"
            )
        ).format(grants=self.grants, as_of=self.as_of, later=self.after_as_of, rows=self.event_log_rows)
        lines = [_("{status}: {events}; {balances}").format(status=status, events=events, balances=balances)]
        signed = _(
            "signed: {signed} events by people of the registry under trust root {root} ({people} "
            "people, {seals} seals), each in a role that may record it, separation of duties held"
        ).format(signed=self.signed, root=self.trust_root, people=self.people, seals=self.seals)
        if self.adopted:
            signed = _("{signed}; {adopted} older events adopted, not signed (migrate)").format(
                signed=signed, adopted=self.adopted
            )
        lines.append("  " + signed)
        if not people:
            lines.append(
                "  "
                + _(
                    "NOT ANCHORED: the events' signatures were checked against the bundle's own people "
                    "registry, which anyone could forge with keys of their own; give --root FINGERPRINT "
                    "(the trust root `grant-ledger init` printed, from the ledger's keeper)"
                )
            )
        if not anchored:
            lines.append(
                "  "
                + _(
                    "NOT ANCHORED: the signatures were checked only against the bundle's own keys/, "
                    "which prove nothing about who signed; give --trusted CHECKPOINT (kept from an "
                    "earlier visit) or --public-key KEY (from the ledger's keeper)"
                )
            )
        return lines

    def _withheld(self) -> str:
        if not self.withheld:
            return _("none withheld")
        return _(
            "{withheld} withheld: every event of {aggregates} aggregates this bundle leaves out, as "
            "bundle.json lists them"
        ).format(withheld=self.withheld, aggregates=self.withheld_aggregates)

    def anchor_text(self) -> str:
        """Whose keys the checkpoints' signatures were checked against, in the reader's language."""
        kind, _sep, name = self.anchor.partition(":")
        if kind == ANCHOR_TRUSTED:
            return _("the key that signed {name}").format(name=name)
        return _(ANCHORS.get(kind, kind)) if kind else _("a key of the bundle")


def read_text(path: Path, name: str, report: Report) -> str | None:
    """The file as UTF-8 text, or None with a failure reported (not read unless a regular file:
    a FIFO would never end)."""
    if not path.is_file():
        report.fail(_("{name}: not a regular file").format(name=name))
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        report.fail(_("{name}: not UTF-8 text (byte {byte})").format(name=name, byte=e.start))
        return None
