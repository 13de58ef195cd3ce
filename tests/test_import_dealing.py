"""How the reader of an import checked in parts deals the rows (``importing._Dealer``): whatever
the file's order, every row reaches one checking process, each grant's rows one process in the
file's order, none lost or sent twice; the rows set aside wait on disk, not in memory; and a
process is never sent more grants at once than it holds, so it never reads one back at every row.

Driven directly with fake feeds, the bounds made tiny, so that every path is taken: rows sent as
they come, set aside, read back grouped, split (by a hash, or a large grant to a file of its own)
and, past the splits allowed, sent as they stand."""

from __future__ import annotations

import random
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import importing
from ledger.import_format import Cells, Overflow

Rows = list[tuple[int, Cells]]


class _Feed:
    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def send(self, message: tuple[str, Any]) -> None:
        self.sent.append(message)


def _file(sizes: list[int], order: str, rng: random.Random) -> Rows:
    """Rows of grants of the given sizes, in ``order``."""
    grants = [f"G{n}" for n in range(len(sizes))]
    grouped = [grant for grant, size in zip(grants, sizes, strict=True) for _ in range(size)]
    if order == "shuffled":
        rng.shuffle(grouped)
    elif order == "date":  # a row of each grant in turn
        left = dict(zip(grants, sizes, strict=True))
        grouped = []
        while left:
            for grant in list(left):
                grouped.append(grant)
                left[grant] -= 1
                if not left[grant]:
                    del left[grant]
    elif order == "grouped, last rows at the end":
        last = [grant for grant, size in zip(grants, sizes, strict=True) if size > 1]
        rng.shuffle(last)
        grouped = [g for g, size in zip(grants, sizes, strict=True) for _ in range(size - (size > 1))] + last
    return [(line, Cells(grant_id=grant, n=str(line))) for line, grant in enumerate(grouped, start=2)]


class _Dealt(NamedTuple):
    feeds: list[_Feed]  # each process's messages
    in_memory: int  # the most rows the set-aside files held in memory at once
    aside: int  # the rows set aside


def _dealt(rows: Rows, parts: int, held: int, expected: int) -> _Dealt:
    """The rows dealt to ``parts`` processes (``_Dealer``), as each process is sent them."""
    feeds = [_Feed() for _ in range(parts)]
    dealer = importing._Dealer(feeds, held, expected)
    most = 0
    for line, cells in rows:
        dealer.deal(line, cells)
        most = max(most, sum(len(aside.rows) for files in dealer.aside for aside in files))
    aside = sum(a.count for files in dealer.aside for a in files)
    dealer.finish()
    dealer.close()
    return _Dealt(feeds, most, aside)


def _received(feeds: list[_Feed], rows: Rows) -> list[list[str]]:
    """Each process's grants, row by row, once the promises on every row are checked."""
    owner: dict[str, int] = {}
    received = []
    for part, feed in enumerate(feeds):
        assert feed.sent[-1] == ("end", None)
        assert all(kind == "rows" and 0 < len(body) <= importing.DEAL_ROWS for kind, body in feed.sent[:-1])
        got = [row for _, batch in feed.sent[:-1] for row in batch]
        mine: dict[str, list[int]] = {}
        for line, cells in got:
            grant = cells["grant_id"]
            assert owner.setdefault(grant, part) == part, f"{grant}'s rows went to two processes"
            mine.setdefault(grant, []).append(line)
        for grant, lines in mine.items():
            assert lines == [line for line, cells in rows if cells["grant_id"] == grant], grant
        received.append([cells["grant_id"] for _, cells in got])
    assert sum(map(len, received)) == len(rows)
    assert set(owner) == {cells["grant_id"] for _, cells in rows}
    return received


def _runs(feeds: list[_Feed], rows: Rows) -> list[list[str]]:
    """Each process's grants in the order it meets them, a grant once per run of its rows (once
    ``_received`` has checked every row)."""
    return [
        [grant for at, grant in enumerate(order) if at == 0 or order[at - 1] != grant]
        for order in _received(feeds, rows)
    ]


def _by_date(grants: int, each: int) -> Rows:
    """``grants`` grants of ``each`` rows, a row of every grant in turn (as by date)."""
    return [
        (line, Cells(grant_id=f"G{(line * 7) % grants}", n=str(line))) for line in range(2, 2 + grants * each)
    ]


@pytest.mark.parametrize("aside_rows", [25_000, 50])
def test_the_reader_sends_each_process_its_grants_one_after_another_whatever_the_order(
    monkeypatch: pytest.MonkeyPatch, aside_rows: int
) -> None:
    """200 grants by date: each process is sent the rows of a few grants as they come
    (``LIVE_GRANTS``, here 10: as many as it holds), and every other grant's rows in one run,
    read back from where they were set aside; ``aside_rows`` 50: the files set aside are larger
    than memory may hold at once, and split."""
    monkeypatch.setattr(importing, "DEAL_ROWS", 3)
    monkeypatch.setattr(importing, "ASIDE_ROWS", aside_rows)
    rows = _by_date(200, 20)
    feeds, _, aside = _dealt(rows, 2, 10, len(rows))
    assert aside > len(rows) * 0.8  # all but the few grants sent as they come
    for run in _runs(feeds, rows):
        again = [grant for grant in set(run) if run.count(grant) > 1]
        assert len(again) <= 10, "more grants sent at once than the process holds"
        assert run[: len(again)] == list(dict.fromkeys(run))[: len(again)]  # they came first
        assert _read_back(run, 10) == 0, "a grant came back after the process turned it out"


def test_a_file_grouped_by_grant_is_sent_as_it_is_read() -> None:
    """Nothing is set aside: each grant looks done once others' rows come, and the next takes its
    place, so the processes check while the file is read."""
    rows = [(2 + n, Cells(grant_id=f"G{n // 40:03d}", n=str(n))) for n in range(300 * 40)]
    feeds, _, aside = _dealt(rows, 2, 10, 0)
    assert aside == 0
    assert all(len(run) == len(set(run)) for run in _runs(feeds, rows))


def test_a_large_grant_set_aside_is_sent_whole_and_the_others_grouped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file set aside holding one grant of many rows among many small ones: split so that the
    large grant has a file of its own (sent as it stands, however large) and the others are
    grouped."""
    monkeypatch.setattr(importing, "ASIDE_ROWS", 40)
    monkeypatch.setattr(importing, "ASIDE_SPLITS", 1)  # split once: a hash alone may leave it with others
    monkeypatch.setattr(importing, "LIVE_GRANTS", 1)
    rows = [(2, Cells(grant_id="FIRST", n="0"))]
    for n in range(1, 2000):
        grant = "LARGE" if n % 2 else f"S{n % 300}"  # more small grants than files: hashed
        rows.append((2 + n, Cells(grant_id=grant, n=str(n))))
    feeds, _, aside = _dealt(rows, 1, 10, 0)
    assert aside == len(rows) - 1
    for run in _runs(feeds, rows):
        assert len(run) == len(set(run)), "a grant set aside came in two runs"


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.sampled_from([1, 1, 2, 5, 30, 120]), min_size=1, max_size=60),
    order=st.sampled_from(["grouped", "shuffled", "date", "grouped, last rows at the end"]),
    rng=st.randoms(use_true_random=False),
    parts=st.integers(min_value=1, max_value=3),
    held=st.sampled_from([1, 2, 10, 1000]),
    expected=st.sampled_from(["not known", "known", "far more"]),
    deal_rows=st.sampled_from([1, 3, 500]),
    aside_rows=st.sampled_from([2, 4, 40, 25_000]),
    live=st.sampled_from([1, 2, 3, 32]),
    gap=st.sampled_from([0, 1, 3, 20, 256]),
    returns=st.sampled_from([0, 2, 32]),
    files=st.sampled_from([1, 3, 128]),
    splits=st.sampled_from([0, 1, 3]),
    buffered=st.sampled_from([1, 16, 100]),
    remembered=st.sampled_from([1, 3, 65_536]),
    bits=st.sampled_from([8, 64, 1 << 26]),
)
def test_every_row_reaches_one_process_in_its_grants_order_and_waits_on_disk(
    sizes: list[int],
    order: str,
    rng: random.Random,
    parts: int,
    held: int,
    expected: str,
    deal_rows: int,
    aside_rows: int,
    live: int,
    gap: int,
    returns: int,
    files: int,
    splits: int,
    buffered: int,
    remembered: int,
    bits: int,
) -> None:
    rows = _file(sizes, order, rng)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (
            ("DEAL_ROWS", deal_rows),
            ("ASIDE_ROWS", aside_rows),
            ("LIVE_GRANTS", live),
            ("LIVE_GAP", gap),
            ("LIVE_RETURNS", returns),
            ("ASIDE_FILES", files),
            ("ASIDE_SPLITS", splits),
            ("ASIDE_BUFFERED", buffered),
            ("LOOKED_DONE_KEPT", remembered),
            ("ASIDE_BITS", bits),
        ):
            patch.setattr(importing, name, value)
        count = {"not known": 0, "known": len(rows), "far more": 10**9}[expected]
        feeds, in_memory, _ = _dealt(rows, parts, held, count)
        _received(feeds, rows)
        most_files = files * parts
    assert in_memory <= max(buffered, 16 * most_files), "the rows set aside stayed in memory"


def test_a_grant_set_aside_stays_aside_when_a_place_frees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two grants sent as they come (A, B), a third set aside (C); A then looks done, B's rows
    coming without it: C's next row still goes where its first went, and reaches the process
    after it."""
    monkeypatch.setattr(importing, "LIVE_GRANTS", 2)
    monkeypatch.setattr(importing, "LIVE_GAP", 2)
    rows = [(line, Cells(grant_id=grant, n=str(line))) for line, grant in enumerate("ABCBBBC", start=2)]
    assert _received(_dealt(rows, 1, 10, len(rows)).feeds, rows) == [["A", "B", "B", "B", "B", "C", "C"]]


def _read_back(grants: list[str], held: int) -> int:
    """How many times a process holding ``held`` grants (the most recently used) would read a
    grant back that it had turned out, meeting the grants in this order."""
    hand: dict[str, None] = {}
    turned_out: set[str] = set()
    count = 0
    for grant in grants:
        if grant in hand:
            del hand[grant]
        elif grant in turned_out:
            count += 1
            turned_out.discard(grant)
        hand[grant] = None
        if len(hand) > held:
            gone = next(iter(hand))
            del hand[gone]
            turned_out.add(gone)
    return count


def test_grants_that_come_back_after_they_looked_done_are_set_aside() -> None:
    """A file grouped by grant, then the same grants' later rows by date (adjustments at the end):
    each grant looked done once the next came, so its later rows come back among all the others'.
    Past a few such, they are set aside and each read back in one run: a process holding ten
    grants reads each grant back once (and a few dozen more times), not at nearly every row of
    the second part (a thousand rows each)."""
    rng = random.Random(5)
    rows = _file([300] * 400, "grouped", rng)
    later = _file([5] * 400, "date", rng)
    rows += [(len(rows) + line, cells) for line, cells in later]
    for grants in _received(_dealt(rows, 2, 10, len(rows)).feeds, rows):
        assert _read_back(grants, 10) <= len(set(grants)) + importing.LIVE_RETURNS + 10


def test_a_grant_that_keeps_coming_back_is_set_aside_past_a_few_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A grant with a row between every two others' (each grant of four rows, in turn): it looks
    done each time others' rows come without it, and comes back. Past ``LIVE_RETURNS`` returns it
    is set aside, its later rows in one run once the file is read: the process meets it a few
    times, not forty; the grants that come once are still sent as they come."""
    monkeypatch.setattr(importing, "LIVE_GRANTS", 3)
    monkeypatch.setattr(importing, "LIVE_GAP", 3)
    monkeypatch.setattr(importing, "LIVE_RETURNS", 2)
    grants = [g for n in range(40) for g in ["A", *[f"F{n}"] * 4, *[f"G{n}"] * 4]]
    rows = [(line, Cells(grant_id=grant, n=str(line))) for line, grant in enumerate(grants, start=2)]
    (received,) = _received(_dealt(rows, 1, 1000, len(rows)).feeds, rows)
    runs = [at for at, grant in enumerate(received) if grant == "A" and (at == 0 or received[at - 1] != "A")]
    assert len(runs) <= importing.LIVE_RETURNS + 2
    assert received[-30:] == ["A"] * 30  # the rows set aside, after every other


def test_a_row_set_aside_on_disk_still_holds_its_cells_past_the_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A row holding cells past the header's is refused where it is checked, so what it holds past
    them travels with it: written to a file set aside and read back, it still says so."""
    monkeypatch.setattr(importing, "DEAL_ROWS", 3)
    monkeypatch.setattr(importing, "LIVE_GRANTS", 1)
    rows = [(line, Cells(grant_id=grant, n=str(line))) for line, grant in enumerate("A" + "C" * 40, start=2)]
    for _, cells in rows[1::3]:
        cells.overflow = Overflow(13, 14, True)
    dealt = _dealt(rows, 1, 10, len(rows))
    assert dealt.aside == 40
    sent = [row for kind, batch in dealt.feeds[0].sent if kind == "rows" for row in batch]
    assert [(line, cells.overflow) for line, cells in sent] == [
        (line, cells.overflow) for line, cells in rows
    ]
    assert any(got is not cells for (_, got), (_, cells) in zip(sent, rows, strict=True))  # read back


def test_the_grants_remembered_as_done_stay_few_in_a_file_of_many_grants(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file naming thousands of grants once each (another ledger's, or a year of one-off
    grants): the reading process remembers at most ``LOOKED_DONE_KEPT`` of those that looked done
    per checking process (it kept every name: a million at 247 MB), and still deals every row to
    one process in its grant's order, a grant coming back after it was forgotten included."""
    monkeypatch.setattr(importing, "LOOKED_DONE_KEPT", 50)
    monkeypatch.setattr(importing, "LIVE_GAP", 4)
    grants = [f"ONCE{n}" for n in range(3000)] + [f"ONCE{n}" for n in range(0, 3000, 7)]
    rows = [(line, Cells(grant_id=grant, n=str(line))) for line, grant in enumerate(grants, start=2)]
    feeds = [_Feed() for _ in range(2)]
    dealer = importing._Dealer(feeds, 10, len(rows))
    most = 0
    for line, cells in rows:
        dealer.deal(line, cells)
        most = max(most, *map(len, dealer.looked_done))
    dealer.finish()
    dealer.close()
    assert 0 < most <= 50
    _received(feeds, rows)


def test_grants_set_aside_take_no_memory_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file naming a grant of its own on every row (another ledger's: each row is refused):
    nearly every grant is set aside, and the reading process holds about as much for 100,000 of
    them as for 20,000, under 1.5 MB more (it held each one's name twice: a million took it to
    248 MB)."""
    import tracemalloc

    monkeypatch.setattr(importing, "ASIDE_BUFFERED", 16)

    def peak(count: int) -> int:
        rows = [(line, Cells(grant_id=f"ELSEWHERE-{line:07d}", n="1")) for line in range(2, count + 2)]
        feeds = [_Feed() for _ in range(2)]
        for feed in feeds:
            feed.send = lambda message: None  # type: ignore[method-assign]
        tracemalloc.start()
        try:
            dealer = importing._Dealer(feeds, 1000, count)
            for line, cells in rows:
                dealer.deal(line, cells)
            assert sum(a.count for files in dealer.aside for a in files) > count * 0.99
            dealer.close()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(100_000) - peak(20_000) < 1_500_000
