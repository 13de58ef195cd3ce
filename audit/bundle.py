"""``audit export``: the bundle an auditor takes away and checks with ``audit verify`` alone.

Layout::

    bundle.json          what was exported (origin, tree size, filters)
    events.jsonl         one line per leaf, in leaf order: leaf_index, event_id, leaf_hash and the
                         event's record (see audit/verifier/canonical.py); events outside --grant/--as-of
                         are "withheld": only their leaf hash is given, so the root still checks;
                         the people registry's events and every seal always go out in full (an
                         auditor checks who signed each included event by them)
    checkpoints/NNNN.txt every signed checkpoint, oldest first
    keys/NAME.pub        the public key(s) that signed them
    policy/FILE.toml     every policy version in force up to the bundle's date, shipped with the package
                         or installed by an event under the checkpoint (each one the verifier knows by its
                         sha256 or finds installed in the log; a spend is judged by its date's); the policy
                         book's events, which install them, always go out in full
    report.xlsx          balances per base, spending with vouchers (by leaf index), the findings
                         that follow from the events and the policy, who did what (each person's
                         events by role and kind) and the people registry's history, each laid out
                         for filing (audit/verifier/forms.py: title, 编制单位 / 报表日期 / 单位：元,
                         Chinese header on row 4, 合计, print setup); the event log with leaf
                         hashes (a sheet past Excel's 1,048,576 rows goes on in "NAME (2)"…;
                         bundle.json names the event-log sheets); events.jsonl stays the log itself
    MANIFEST             sha256 of every other file, as `sha256sum` prints them

Everything the workbook shows is read off the events the bundle exports (never a read model, which
can be edited below the application), so ``audit verify`` can derive every cell again. The bundle
is written in a hidden directory beside the target and renamed into place when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import IO, TYPE_CHECKING, Any, Protocol
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.engine import Engine

from audit.i18n import _
from audit.log import ORIGIN, leaves, stored_checkpoints
from audit.verifier import forms, layout
from audit.verifier.background import Background
from audit.verifier.canonical import canonical_json, quote, record_from_parsed, shaped_leaf_data
from audit.verifier.checkpoint import key_id
from audit.verifier.layout import FORMAT, event_line, event_log_row, shown_event_row
from audit.verifier.people import REGISTRY_ID
from audit.verifier.seals import ADOPTION_TOPIC, SEAL_TOPIC
from audit.verifier.who import Activity, is_registry, registry_row
from audit.verifier.xlsx import SheetStream
from audit.xlsx_writer import DeflatedSheet, Workbook
from ledger.database import EVENTS_TABLE, streamed_rows
from ledger.encoding import json_state
from ledger.errors import BadInputError, NotFoundError, VerificationError
from ledger.i18n import current
from ledger.policy import Policy, Programme, load_policies, parse_policy, policy_in_force
from ledger.policy_files import POLICY_FOLDER
from ledger.policy_installed import BOOK_ID
from ledger.rules import named_projects
from projections.measures import GRANT, SPENDING_KINDS, available_in, effect
from projections.shapes import ShapeCache

if TYPE_CHECKING:
    from ledger.policy_book import InstalledFile

_BATCH = 5000  # rows fetched, lines written and progress reported at a time
PARALLEL_EVENTS = 200_000  # from this many events, a second process writes the workbook


Step = Callable[[int], None]


class Progress(Protocol):
    def stage(self, label: str, total: int) -> Step:
        """Starts a stage of ``total`` steps (ending the previous one); returns its step counter."""
        ...


@dataclass(frozen=True)
class Exported:
    directory: Path
    size: int
    included: int
    checkpoints: int
    after_checkpoint: int

    def summary(self) -> str:
        """What ``audit export`` prints: how much went out, and what waits for a checkpoint."""
        if self.after_checkpoint:
            return _(
                "exported {size} events up to checkpoint {checkpoints} to {directory}; {after} newer "
                "events await `audit checkpoint`"
            ).format(
                size=self.size,
                checkpoints=self.checkpoints,
                directory=self.directory,
                after=self.after_checkpoint,
            )
        return _("exported {size} events up to checkpoint {checkpoints} to {directory}").format(
            size=self.size, checkpoints=self.checkpoints, directory=self.directory
        )


_NAMES_KEPT = 100_000  # aggregate ids remembered by an export (a hundred bytes or so each)


def _uuid(value: Any) -> UUID:
    if isinstance(value, UUID):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return UUID(bytes=bytes(value))
    return UUID(str(value))


def _rows(engine: Engine, size: int) -> Iterator[Any]:
    """Every leaf up to ``size`` with its stored event, streamed in leaf order (one query)."""
    sql = (
        "SELECT l.leaf_index, l.notification_id, l.leaf_hash, e.originator_id, e.originator_version, "
        f"e.topic, e.state FROM {leaves.name} l JOIN {EVENTS_TABLE} e ON e.id = l.notification_id "
        "WHERE l.leaf_index < :size ORDER BY l.leaf_index"
    )
    with engine.connect() as conn:
        yield from streamed_rows(conn, sql, {"size": size}, _BATCH)


def _occurred_on(state: dict[str, Any]) -> str | None:
    value = state.get("occurred_on")
    value = value.get("_data_") if isinstance(value, dict) else value
    return str(value) if value is not None else None


def _by_cutoff(record: dict[str, Any], cutoff: str | None) -> bool:
    """The record counts in the workbook's books: no ``--as-of``, or dated by it (the verifier
    replays the same events: audit/verifier/scan.py)."""
    return cutoff is None or (_occurred_on(record["state"]) or "") <= cutoff


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path, known: dict[str, str] | None = None) -> None:
    """MANIFEST of every other file; ``known`` gives digests already computed while writing."""
    known = known or {}
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != "MANIFEST")
    lines = []
    for p in files:
        name = p.relative_to(directory).as_posix()
        lines.append(f"{known.get(name) or _sha256(p)}  {name}\n")
    (directory / "MANIFEST").write_text("".join(lines), encoding="utf-8")


@dataclass
class _Selection:
    """Which aggregates go out in full: one grant (``--grant``), those begun by a business date
    (``--as-of``). An aggregate goes out whole or not at all (decided at its first event), so
    no version of an aggregate the bundle includes is missing; with ``--as-of`` its events dated
    later are in it too, and the verifier replays only those up to the date."""

    grant: UUID | None
    cutoff: str | None
    found_grant: bool = False
    decided: dict[UUID, bool] = field(default_factory=dict)

    @property
    def everything(self) -> bool:
        """Every event goes out in full (no ``--grant``, no ``--as-of``)."""
        return self.grant is None and self.cutoff is None

    def keeps(self, originator: UUID, record: dict[str, Any]) -> bool:
        kept = self.decided.get(originator)
        if kept is None:
            if originator in (REGISTRY_ID, BOOK_ID) or record["topic"] in (SEAL_TOPIC, ADOPTION_TOPIC):
                # who may sign, every signature, and the policy versions installed: an auditor checks
                # the included events by them, and the bundle's installed policy files by their events
                self.decided[originator] = True
                return True
            kept = self.grant is None or originator == self.grant
            self.found_grant |= self.grant is not None and kept
            if kept and self.cutoff is not None:
                on = _occurred_on(record["state"])
                kept = on is None or on <= self.cutoff
            self.decided[originator] = kept
        return kept


@dataclass
class _EventsWritten:
    last_nid: int
    originators: set[str]
    digest: str
    withheld: dict[str, int]  # aggregate id -> events withheld


def _write_events(
    engine: Engine,
    size: int,
    selection: _Selection,
    out: IO[bytes] | None,
    log: SheetStream | DeflatedSheet | None,
    progress: Step | None,
    book: _Book | None = None,
) -> _EventsWritten:
    """events.jsonl (to ``out``) and the workbook's event log (to ``log``), either or both, in one
    pass over the stored events; the workbook's other sheets' content (to ``book``) with them."""
    digest = hashlib.sha256()
    originators: set[str] = set()
    withheld: dict[str, int] = {}
    last_nid = 0
    lines: list[bytes] = []
    # each aggregate's id as a UUID and as text, made once: a tenth of the export made them per event
    names: dict[Any, tuple[UUID, str]] = {}
    # every event in full, and no sheet but the event log: a state of a shape seen before is
    # written from its canonical text as the audit log hashed it, without parsing it and encoding
    # it again (the two were three fifths of the export's main process)
    shapes = ShapeCache() if book is None and selection.everything else None
    topics: dict[str, str] = {}
    expected = 0  # the leaves come in order from 0: one missing is an event taken out of the store
    for index, nid, leaf_hash, originator_id, version, topic, state in _rows(engine, size):
        if index != expected:
            raise _event_missing(expected, size)
        expected += 1
        key = originator_id if isinstance(originator_id, bytes | str | UUID) else bytes(originator_id)
        named = names.get(key)
        if named is None:
            if len(names) >= _NAMES_KEPT:
                names.clear()
            made = _uuid(originator_id)
            named = names[key] = (made, str(made))
        originator, name = named
        index, nid = int(index), int(nid)
        shaped = None
        if shapes is not None and topic.__class__ is str:
            shaped = shapes.stamped(topic, bytes(state).decode("utf-8"))
        if shaped is not None:
            quoted = topics.get(topic)
            if quoted is None:
                quoted = topics[topic] = quote(topic)
            originators.add(name)
            if out is not None:
                data = shaped_leaf_data(name, version, shaped[1], shaped[0], quoted)
                lines.append(event_line(index, nid, leaf_hash, data))
            if log is not None:
                log.append(shown_event_row(index, nid, leaf_hash, shaped[1], topic, name, int(version)))
        else:
            record = record_from_parsed(name, version, topic, json_state(state))
            kept = selection.keeps(originator, record)
            if kept:
                originators.add(record["originator_id"])
                if book is not None:
                    if is_registry(record):
                        book.registry.append(registry_row(index, record))
                    if _by_cutoff(record, selection.cutoff):
                        book.feed(index, record)
            else:
                withheld[record["originator_id"]] = withheld.get(record["originator_id"], 0) + 1
            if out is not None:
                lines.append(event_line(index, nid, leaf_hash, canonical_json(record) if kept else None))
            if log is not None:
                log.append(event_log_row(index, nid, leaf_hash, record if kept else None))
        last_nid = nid
        if len(lines) == _BATCH:
            _flush(out, digest, lines, progress)
    _flush(out, digest, lines, progress)
    if expected != size:
        raise _event_missing(expected, size)
    return _EventsWritten(last_nid, originators, digest.hexdigest(), withheld)


def _event_missing(leaf: int, size: int) -> VerificationError:
    return VerificationError(
        _(
            "leaf {leaf} of the audit log, under the signed checkpoint of {size} leaves, has no event in "
            "the store: the events table was changed below the application; nothing was exported"
        ).format(leaf=leaf, size=size)
    )


def _flush(out: IO[bytes] | None, digest: Any, lines: list[bytes], progress: Step | None) -> None:
    if out is None or not lines:
        return
    chunk = b"".join(lines)
    out.write(chunk)
    digest.update(chunk)
    if progress is not None:
        progress(len(lines))
    lines.clear()


def _write_workbook(
    engine: Engine,
    path: Path,
    size: int,
    grant: str | None,
    as_of: date | None,
    policies: tuple[Policy, ...],
    progress: Progress | None = None,
    log_apart: Connection | None = None,
) -> list[str]:
    """report.xlsx, from its own pass over the stored events (never from a read model: what the
    workbook shows is what the bundle's events say), its findings judged by ``policies`` (the
    versions the bundle ships, oldest first: an application by the one in force on its date, the
    rest by the latest); returns the event-log sheet names. ``log_apart``: the event log is
    written by the parent process (``DeflatedSheet``), which sends its sheets here."""
    with Workbook(path) as book:
        log: SheetStream | None = None
        if log_apart is not None:
            log_sheets = book.reserve(layout.EVENT_LOG_SHEET, size, forms.EVENT_LOG_FORM)
        else:
            log = book.sheet(
                layout.EVENT_LOG_SHEET, layout.EVENT_LOG_HEADERS, rows=size, form=forms.EVENT_LOG_FORM
            )
        content = _Book(policies, as_of.isoformat() if as_of else None, book)
        _write_events(engine, size, _selection(grant, as_of), None, log, None, content)
        if log is not None:
            log_sheets = log.close()
        content.write(book)
        if log_apart is not None:
            book.fill(log_apart.recv())
        book.close(layout.SHEETS)
    return log_sheets


@dataclass(frozen=True)
class _Version:
    """A policy version the bundle ships: as the ledger reads it, and its file's name and text."""

    policy: Policy
    text: str

    @property
    def source(self) -> str:
        return str(self.policy.source)


def _versions(
    engine: Engine, size: int, installed: Sequence[InstalledFile], as_of: date | None
) -> list[_Version]:
    """Every policy version in force for the ledger up to the bundle's date (``as_of``, else
    every one), oldest first: those shipped with the package, and those ``installed`` (the files
    the ledger believes, ``GrantLedger.installed_policy_files``) by an event under the checkpoint
    of ``size`` leaves (the verifier finds an installed text in the bundle's log, which ends there).
    Read from the log, never from what this process happens to have loaded."""
    wanted = [f for f in installed if f.kind == "version"]
    logged: set[int] = set()
    if wanted:
        c = leaves.c
        query = select(c.notification_id).where(
            c.notification_id.in_([f.event for f in wanted]), c.leaf_index < size
        )
        with engine.connect() as conn:
            logged = {int(nid) for (nid,) in conn.execute(query)}
    found = [_Version(p, (POLICY_FOLDER / p.source).read_text("utf-8")) for p in load_policies()]
    found += [_Version(parse_policy(f.text, f.name), f.text) for f in wanted if f.event in logged]
    found.sort(key=lambda v: v.policy.effective_from)
    if as_of is None:
        return found
    kept = [v for v in found if v.policy.effective_from <= as_of]
    if not kept:
        policy_in_force(as_of)  # the shipped versions are the earliest: it says none is in force so early
    assert kept, as_of
    return kept


def _workbook_job(
    log_apart: Connection | None,
    url: str,
    path: str,
    size: int,
    grant: str | None,
    as_of: date | None,
    lang: str,
    policies: list[tuple[str, str]],
) -> list[str]:
    """``_write_workbook`` in a second process (its own connection to the same database), which
    speaks the parent's language; ``policies``: the bundle's versions, each its file name and
    text; ``log_apart``: where the parent sends the event log it writes (None: written here)."""
    from ledger.database import make_engine
    from ledger.i18n import use

    use(lang)
    engine = make_engine(url)
    try:
        versions = tuple(parse_policy(text, name) for name, text in policies)
        return _write_workbook(engine, Path(path), size, grant, as_of, versions, log_apart=log_apart)
    finally:
        engine.dispose()


def _selection(grant: str | None, as_of: date | None) -> _Selection:
    wanted: UUID | None = None
    if grant is not None:
        from ledger.grant import grant_uuid

        wanted = grant_uuid(grant)
    return _Selection(wanted, as_of.isoformat() if as_of else None)


class _WorkbookJob:
    """report.xlsx beside events.jsonl: written by a second process for a large log (each
    process reads the events once; together they use both cores), else here after events.jsonl.
    Exporting every event, the second process keeps the event log's places (``log_apart``) and
    this one writes it beside events.jsonl (``log``), from the same pass: the two then take about
    as long, where the second process alone had been the export's critical path."""

    def __init__(
        self,
        engine: Engine,
        path: Path,
        size: int,
        selection: _Selection,
        grant: str | None,
        as_of: date | None,
        versions: list[_Version],
    ) -> None:
        self._args = (engine, path, size, grant, as_of, versions)
        self.log_apart = size >= PARALLEL_EVENTS and selection.everything
        self._background: Background | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self.log: DeflatedSheet | None = None

    def __enter__(self) -> _WorkbookJob:
        engine, path, size, grant, as_of, versions = self._args
        if size >= PARALLEL_EVENTS:
            url = engine.url.render_as_string(hide_password=False)
            named = [(v.source, v.text) for v in versions]
            args = (url, str(path), size, grant, as_of, current(), named)
            if self.log_apart:
                self._background = Background(_workbook_job, *args, inbox=True)
            else:  # the job's first argument, where the event log's sheets come from: none
                self._background = Background(_workbook_job, None, *args)
        if self.log_apart:
            self._scratch = tempfile.TemporaryDirectory(prefix="grant-ledger-export-")
            self.log = DeflatedSheet(
                Path(self._scratch.name),
                layout.EVENT_LOG_SHEET,
                layout.EVENT_LOG_HEADERS,
                size,
                forms.EVENT_LOG_FORM,
            )
        return self

    def result(self, progress: Progress | None) -> list[str]:
        if self._background is None:
            engine, path, size, grant, as_of, versions = self._args
            policies = tuple(v.policy for v in versions)
            return _write_workbook(engine, path, size, grant, as_of, policies, progress)
        if progress is not None:
            progress.stage(_("writing the workbook"), 0)
        if self.log is not None:
            self._background.tell(self.log.close())
        sheets: list[str] = self._background.result()
        return sheets

    def __exit__(self, *exc: object) -> None:
        if self.log is not None:
            self.log.abandon()
        if self._scratch is not None:
            self._scratch.cleanup()
        if self._background is not None:
            self._background.__exit__(None, None, None)


def export(
    engine: Engine,
    directory: Path,
    grant: str | None = None,
    as_of: date | None = None,
    progress: Progress | None = None,
    *,
    installed: Sequence[InstalledFile],
) -> Exported:
    """The bundle of the ledger whose store ``engine`` reads, up to its latest checkpoint, in
    ``directory``. ``installed``: the policy files installed in it, as the ledger believes them
    (``GrantLedger.installed_policy_files``): the versions among them go out with the shipped ones."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BadInputError(
            _("{directory} exists and is not an empty directory; give a new one").format(directory=directory)
        )
    with engine.connect() as conn:
        stored = stored_checkpoints(conn)
        total = conn.execute(select(leaves.c.leaf_index).order_by(leaves.c.leaf_index.desc())).first()
    if not stored:
        raise NotFoundError(_("no checkpoint has been signed yet; run `grant-ledger audit checkpoint` first"))
    size = int(stored[-1].size)
    after = (int(total[0]) + 1 if total else 0) - size
    selection = _selection(grant, as_of)
    versions = _versions(engine, size, installed, as_of)

    # Written beside the target and renamed into place whole: an export that fails or is killed
    # leaves no directory an auditor could take for a bundle (at most a hidden ".NAME.partial-…").
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    except OSError as e:
        raise BadInputError(
            _("cannot create the bundle folder {directory}: {reason}; nothing was written").format(
                directory=directory, reason=e.strerror or e
            )
        ) from None
    try:
        written = _write_bundle(engine, partial, stored, size, grant, as_of, selection, versions, progress)
        os.replace(partial, directory)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Exported(directory, size, len(written.originators), len(stored), after)


@dataclass
class _Grant:
    """One grant as its exported events say: names, column totals (fen), what the findings read."""

    base_id: str
    grant_id: str
    base_name: str
    programme: str
    totals: dict[str, int]
    status: str = "applied"
    build_start: date | None = None
    outputs: dict[int, Any] = field(default_factory=dict)
    applied_on: str | None = None
    unit_kind: str = ""
    declared: dict[str, int] | None = None
    projects: int | None = None


class _Book:
    """Balances, spending and findings of the workbook, read off the exported events with the
    one reading of events (``projections.measures``) and the ledger's own rules; spending is
    spooled to disk as it comes, so memory holds only a grant's totals."""

    def __init__(self, policies: tuple[Policy, ...], as_of: str | None, book: Workbook) -> None:
        self.policies = policies
        self.policy = policies[-1]
        self.as_of = as_of
        self.latest = ""  # the latest business date of the events the books read
        self.grants: dict[str, _Grant] = {}
        self.spending = book.spooled(
            layout.SPENDING_SHEET,
            forms.headers(layout.SPENDING_SHEET),
            amount_columns=forms.AMOUNTS[layout.SPENDING_SHEET],
            form=forms.filed(layout.SPENDING_SHEET, None, "", ()),
        )
        self.spent_net = Decimal(0)  # spent less reversed: the spending sheet's 合计
        self.activity = Activity()
        self.registry: list[list[Any]] = []

    def feed(self, index: int, record: dict[str, Any]) -> None:
        on = _occurred_on(record["state"])
        if on is not None and on > self.latest:
            self.latest = on
        self.activity.feed(record)
        topic: str = record["topic"]
        if not topic.startswith(GRANT):
            return
        kind, state = topic[len(GRANT) :], record["state"]
        if kind == "Applied":
            self.grants[record["originator_id"]] = _Grant(
                state["base_id"],
                state["grant_id"],
                state["base_name"],
                state["programme"],
                {},
                applied_on=_occurred_on(state),
                unit_kind=state.get("unit_kind") or "",
                declared=state.get("declared"),
                projects=named_projects(state.get("projects")),
            )
            return
        g = self.grants.get(record["originator_id"])
        if g is None:
            return
        if kind in ("Approved", "Rejected", "Closed"):
            g.status = {"Approved": "approved", "Rejected": "rejected", "Closed": "closed"}[kind]
            if kind == "Approved":
                g.build_start = date.fromisoformat(state["build_start"]["_data_"])
        elif kind == "OutputReported":
            g.outputs[state["year"]] = SimpleNamespace(**{k: state[k] for k in _OUTPUT_FIELDS})
        read = effect(topic, state)
        if read is None:
            return
        g.totals[read.column] = g.totals.get(read.column, 0) + read.signed
        if read.kind in SPENDING_KINDS:
            amount = read.amount
            self.spent_net += amount if read.kind == "spend" else -amount
            self.spending.append(
                [
                    index,
                    date.fromisoformat(state["occurred_on"]["_data_"]),
                    g.grant_id,
                    g.base_id,
                    read.kind,
                    read.source,
                    read.category,
                    read.content,
                    read.voucher,
                    amount,
                    state["actor"],
                ]
            )

    def write(self, book: Workbook) -> None:
        from ledger.money import from_fen

        root = layout.root_of(self.registry)
        day = self.as_of or self.latest
        grants = sorted(self.grants.values(), key=lambda g: (g.base_id, g.grant_id))
        balances = [_balance_row(g, from_fen) for g in grants]
        found = [row for g in grants for row in self._findings(g, from_fen)]
        self._sheet(book, layout.BALANCES_SHEET, balances, root, day)
        total = layout.spending_total(self.spent_net)
        book.add_spooled(self.spending, forms.filed(layout.SPENDING_SHEET, root, day, total))
        self._sheet(book, layout.FINDINGS_SHEET, found, root, day)
        self._sheet(book, layout.ACTIVITY_SHEET, self.activity.rows(), root, day)
        self._sheet(book, layout.REGISTRY_SHEET, self.registry, root, day)

    @staticmethod
    def _sheet(book: Workbook, name: str, rows: list[list[Any]], root: str | None, day: str) -> None:
        """A sheet held whole: its widths fitted to its rows and 合计."""
        header = forms.headers(name)
        amounts = forms.AMOUNTS.get(name, ())
        total = forms.total_of(name, rows)
        widths = forms.fitted(header, [*rows, total], amounts)
        form = forms.filed(name, root, day, total, widths)
        sheet = book.sheet(name, header, amount_columns=amounts, rows=len(rows), form=form)
        for row in rows:
            sheet.append(row)
        sheet.close()

    def _applied(self, g: _Grant) -> Programme:
        """The programme as the version in force on the application's date states it (as
        ``report findings`` judges an application): a version taking effect later neither adds
        nor drops its findings."""
        day = g.applied_on
        then = [p for p in self.policies if day is not None and p.effective_from.isoformat() <= day]
        version = then[-1] if then and g.programme in then[-1].programmes else self.policy
        return version.programme(g.programme)

    def _findings(self, g: _Grant, from_fen: Callable[[int], Decimal]) -> list[list[Any]]:
        """The findings that follow from the events and the policy alone (as ``report findings``
        words them); those that depend on the day read, or on the judge of stored history, are
        left to ``report findings`` (audit/verifier/findings.py says why)."""
        from ledger.conditions import application_breaches, output_breaches
        from ledger.rules import Breach, matching_at_least_ratio

        if g.programme not in self.policy.programmes:
            return []
        programme = self.policy.programme(g.programme)
        breaches: list[Breach | None] = list(
            application_breaches(g.grant_id, self._applied(g), g.unit_kind, g.declared, g.projects)
        )
        if g.status in ("approved", "closed"):
            subsidy = from_fen(g.totals.get("subsidy_received", 0))
            matching = from_fen(g.totals.get("matching_received", 0))
            breaches.append(matching_at_least_ratio(g.grant_id, programme, subsidy, matching))
            for year in sorted(g.outputs):
                breaches.extend(output_breaches(g.grant_id, programme, g.build_start, g.outputs[year]))
        from ledger.i18n import speaking
        from ledger.labels import label

        with speaking("zh"):  # the sheet is filed in Chinese, whoever exports it (the verifier reads it so)
            return [
                [g.base_id, g.grant_id, label("rule", b.rule), b.clause.cite, None, b.message]
                for b in breaches
                if b is not None
            ]


_OUTPUT_FIELDS = ("year", "trainees", "advanced", "evaluations", "advanced_evaluations")


def _balance_row(g: _Grant, from_fen: Callable[[int], Any]) -> list[Any]:
    f = {k: g.totals.get(k, 0) for k in layout.MEASURES}
    subsidy_available = available_in(f, "subsidy", 0)
    matching_available = available_in(f, "matching", 0)
    return [
        g.base_id,
        g.grant_id,
        g.base_name,
        g.programme,
        *(from_fen(f[k]) for k in ("approved", "subsidy_received", "subsidy_spent")),
        from_fen(subsidy_available),
        *(from_fen(f[k]) for k in ("matching_committed", "matching_received", "matching_spent")),
        from_fen(matching_available),
        *(from_fen(f[k]) for k in ("subsidy_recovered", "subsidy_disposed", "matching_disposed")),
    ]


def _write_bundle(
    engine: Engine,
    directory: Path,
    stored: list[Any],
    size: int,
    grant: str | None,
    as_of: date | None,
    selection: _Selection,
    versions: list[_Version],
    progress: Progress | None,
) -> _EventsWritten:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    from audit.verifier.checkpoint import Ed25519PublicKey

    cutoff = selection.cutoff
    (directory / "checkpoints").mkdir()
    (directory / "keys").mkdir()
    (directory / "policy").mkdir()

    policy = versions[-1]  # the bundle's: its findings are judged by it (an application by its day's)
    with _WorkbookJob(engine, directory / "report.xlsx", size, selection, grant, as_of, versions) as workbook:
        with (directory / "events.jsonl").open("wb") as out:
            step = progress.stage(_("exporting events"), size) if progress else None
            written = _write_events(engine, size, selection, out, workbook.log, step)
        if selection.grant is not None and not selection.found_grant:
            raise NotFoundError(_("grant {grant} is not in the audit log").format(grant=grant))
        log_sheets = workbook.result(progress)

    keys: dict[str, str] = {}
    for cp in stored:
        public_key = load_pem_public_key(cp.public_key.encode("ascii"))
        assert isinstance(public_key, Ed25519PublicKey)
        name = f"{cp.key_name}-{key_id(cp.key_name, public_key).hex()}.pub"
        keys[name] = cp.public_key
        (directory / "checkpoints" / f"{cp.seq:04d}.txt").write_text(cp.signed, encoding="utf-8")
    for name, pem in keys.items():
        (directory / "keys" / name).write_text(pem, encoding="utf-8")
    # every version in force up to the bundle's, so the verifier judges each act by its date's
    for version in versions:
        (directory / "policy" / version.source).write_text(version.text, encoding="utf-8")

    meta = {
        "format": FORMAT,
        "origin": ORIGIN,
        "tree_size": size,
        "grant": grant,
        "as_of": cutoff,
        "policy": policy.source,
        "event_log_sheets": log_sheets,
        "withheld_aggregates": dict(sorted(written.withheld.items())),
    }
    (directory / "bundle.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    write_manifest(directory, {"events.jsonl": written.digest})
    return written
