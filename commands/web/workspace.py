"""The ledger the web serves: one open ledger per server, read through the projections the
command line reads and written through the same application handler.

Writes that arrive while a batch is being recorded go in together with the next one: one thread
takes every write waiting into one transaction (``GrantLedger.handle_together``: each still
judged and sealed as its own person's, in the order asked) and one catch-up of the projections,
then each waiting thread gets its own answer. Between this server and other processes, the
store's optimistic concurrency settles two writes on one grant, as between two command-line
processes."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from commands.context import Settings
from commands.web.credentials import ensure_tables
from ledger.application import Outcome

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from sqlalchemy.engine import Engine

    from audit.bundle import Exported
    from audit.verifier.people import Registry
    from ledger.actions import Action
    from ledger.importing import ImportResult
    from ledger.provenance import Provenance
    from ledger.seal import Signer
    from projections.runner import Projection, ProjectionRecorder


# the verified seals a server remembers, in leaves' characters: the seals a few pages of history
# name, where each may be an import's (10,000 leaves); some 64 MB at most
SEAL_LEAVES_KEPT = 48 << 20


# the PostgreSQL advisory lock (two int4 keys) that a server's processes take around a catch-up
CATCH_UP_LOCK = (0x676C6564, 1)  # "gled"


@contextmanager
def _one_process_at_a_time(engine: Engine) -> Iterator[None]:
    """On PostgreSQL, one server process catches up at a time (``serve --workers``): two at once
    would each read, check and project the same events, and one of them throw its work away at the
    compare-and-set. The one that waited finds the projections moved and reads from there. Taken
    outside any write transaction, and a catch-up waits for no lock of this process's own."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # a lock of the session's
        conn.exec_driver_sql("SELECT pg_advisory_lock(%s, %s)", CATCH_UP_LOCK)
        try:
            yield
        finally:
            conn.exec_driver_sql("SELECT pg_advisory_unlock(%s, %s)", CATCH_UP_LOCK)


# the grants whose compliance facts a server keeps in memory between its writes (a large grant's
# are some 25 kB of JSON, read and written back at every write on it otherwise; a few hundred kB
# in memory)
GRANTS_REMEMBERED = 256

# the most writes recorded in one transaction: a batch answers its last write after all of them
BATCH_MOST = 64


@dataclass(eq=False)
class _Asked:
    """A write waiting to be recorded with others, and its answer once it is."""

    action: Action
    signer: Signer
    answered: bool = False
    outcome: Outcome | None = None
    failure: BaseException | None = None


def _own(error: BaseException) -> BaseException:
    """A copy of an error that ended several writes, for one writer's thread to raise (not one
    object whose traceback each thread's raise would add to)."""
    try:
        return copy.copy(error)
    except Exception:
        return error


class Workspace:
    def __init__(self, db: str | None, processes: int = 1) -> None:
        self.settings = Settings(db=db, actor=None, role=None, lang="zh")
        self.processes = processes  # of the server this one is part of (serve --workers)
        self._lock = threading.RLock()
        self._catching = threading.Lock()
        self._writing = threading.Lock()  # one batch of writes at a time (``record``)
        self._asking = threading.Lock()  # guards the writes waiting for the next batch
        self._asked: list[_Asked] = []
        with self._lock:
            try:
                # NotFoundError (exit 4) where there is no ledger
                self.settings.ledger().trust.leaves_kept = SEAL_LEAVES_KEPT
                self.settings.ledger().hold()
                ensure_tables(self.settings.engine())
            except BaseException:
                self.settings.close()  # its connections too: no server is left holding them
                raise
        self._recorder: ProjectionRecorder | None = None
        self._chosen: list[Projection] | None = None  # the same objects at each catch-up

    @property
    def engine(self) -> Engine:
        return self.settings.engine()

    def reading(self) -> Engine:
        """The projections' engine, caught up with the store first (read-your-writes), as the
        command line's reports read it."""
        with self._catching:
            self.settings.ensure_current(acts=True)
        return self.settings.engine()

    @contextmanager
    def held(self) -> Iterator[Settings]:
        """The ledger's settings, for one command run on them at a time (a report, as the command
        line runs it, which catches up and reads as it does there: writes of other threads land
        meanwhile as those of other processes would)."""
        with self._lock:
            yield self.settings

    def refresh_installed_policy(self) -> None:
        """What another process installed with `policy install` since the server opened the
        ledger: registered here too, before a request judges anything (ledger.application)."""
        self.settings.ledger().refresh_installed_policy()

    def channel(self) -> str | None:
        """The store's PostgreSQL NOTIFY channel (its recorder notifies on it at each write)."""
        name = getattr(self.settings.ledger().recorder, "channel_name", None)
        return name if isinstance(name, str) else None

    def registry(self, stored: tuple[Any, ...] = ()) -> Registry:
        """The people registry as the store holds it now; ``stored``: as the values of
        ``registry_columns`` just read say it does (no statement of its own)."""
        trust = self.settings.ledger().trust
        if len(stored) == 2:
            return trust.registry_at((stored[0], stored[1]))
        return trust.registry(fresh=True)

    def registry_columns(self) -> tuple[Any, Any]:
        """Columns another statement may read beside its own for ``registry(stored)``."""
        return self.settings.ledger().trust.stored_columns()

    def provenance(self, grant_id: str, within: tuple[int, int] | None = None) -> dict[int, Provenance]:
        """Each stored event of the grant (those ``within`` the ids given) with its signature
        checked against the store now."""
        from ledger.provenance import provenance

        return provenance(self.settings.ledger().trust, grant_id, within)

    def record(self, action: Action, signer: Signer) -> Outcome:
        """The action handled as the person whose key ``signer`` is (ledger.application), then the
        projections brought up to it. Writes asked for while another is being recorded wait for
        it, then go in together: one transaction and one catch-up for all of them
        (``GrantLedger.handle_together``), each with its own answer."""
        asked = _Asked(action, signer)
        with self._asking:
            self._asked.append(asked)
        with self._writing:
            while not asked.answered:  # its turn comes with a batch of the oldest waiting
                with self._asking:
                    batch, self._asked = self._asked[:BATCH_MOST], self._asked[BATCH_MOST:]
                self._record_together(batch)
        if asked.failure is not None:
            raise asked.failure
        assert asked.outcome is not None
        return asked.outcome

    def _record_together(self, batch: list[_Asked]) -> None:
        answers: list[Outcome | BaseException]
        try:
            answers = [*self.settings.ledger().handle_together([(a.action, a.signer) for a in batch])]
            if any(isinstance(answer, Outcome) and answer.recorded for answer in answers):
                self.catch_up()
        except BaseException as e:  # stored or not, none of them is answered as recorded
            answers = [e] * len(batch)
        for asked, answer in zip(batch, answers, strict=True):
            if isinstance(answer, BaseException):
                asked.failure = _own(answer)
            else:
                asked.outcome = answer
            asked.answered = True

    def catch_up(self) -> None:
        """Every projection brought up to the store's head (the writes of other threads and
        processes with this one's), by one thread at a time."""
        from commands.context import tell
        from commands.registry import all_projections
        from projections.compliance import ComplianceProjection
        from projections.current import catch_up
        from projections.runner import prepared

        shared = self.processes > 1
        with self._catching, _one_process_at_a_time(self.engine) if shared else nullcontext():
            ledger = self.settings.ledger()
            if self._chosen is None:
                self._chosen = all_projections()
                for projection in self._chosen:
                    if isinstance(projection, ComplianceProjection):
                        projection.remembered = GRANTS_REMEMBERED
            chosen = self._chosen
            if self._recorder is None:
                self._recorder = prepared(ledger, chosen)
            elif shared:
                self._recorder.left = None  # another of the processes may have moved them: read where
            catch_up(ledger, chosen, recorder=self._recorder, notice=tell, fork=False)

    def close(self) -> None:
        self.settings.close()

    def record_file(
        self,
        cells: Iterator[list[Any]],
        reopen: Callable[[], Iterator[list[Any]]],
        signer: Signer,
        role: str | None,
        actor: str | None,
    ) -> tuple[ImportResult, str | None]:
        """An opened import file recorded as `import` records it (commands.importer), as the
        person whose key ``signer`` is; nothing written if any row is bad. A file breaking a rule
        in its own order, whose rows of a grant are out of date order, is applied again by
        business date (``reopen`` reads it again): the sentence saying so comes with the result."""
        from commands.importer import record_file

        said: list[str] = []
        # the import's own catch-up checks that no other moved the projections meanwhile: none
        # of this server's writers catches up until the import is in (theirs wait, not fail)
        with self._lock, self._catching:
            done = record_file(
                self.settings.ledger(),
                cells,
                reopen,
                tell=lambda disorder: said.append(str(disorder.sentence())),
                signer=signer,
                role=role,
                actor=actor,
            )
        self.catch_up()
        return done, said[0] if said else None

    def export_bundle(self, directory: Path) -> Exported:
        """The audit bundle `audit export` writes, up to the latest checkpoint, into ``directory``."""
        from audit.bundle import export
        from audit.log import has_log

        with self._catching:
            self.settings.ensure_current()
        if not has_log(self.engine):
            self.catch_up()
        return export(self.engine, directory, installed=self.settings.ledger().installed_policy_files())

    def trust_root(self) -> str | None:
        """The ledger's trust root (its root administrator's first key), as `init` printed it."""
        return self.registry().root_fingerprint
