"""An import's bad rows as its checking processes report them and the writer joins them: each
grant's first refused date and count of bad rows, the rows listed by line and the rest counted,
whatever part each row was checked in (``ledger.importing.ImportResult``; the passes by date
choose each grant's best order from these counts)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.importing import LISTED_ERRORS, ImportResult, RowError

_rows = st.lists(
    st.tuples(st.sampled_from(["G1", "G2", "G3", "X9", ""]), st.integers(0, 5), st.sampled_from([2, 3, 4])),
    max_size=60,
)


def _reported(rows: list[tuple[str, int, int]], lines: list[int]) -> ImportResult:
    part = ImportResult()
    for (grant, day, code), line in zip(rows, lines, strict=True):
        part.rows += 1
        part.add(RowError(line, f"row {line}", code), grant, day)
    part.trim()
    return part


@settings(max_examples=200, deadline=None)
@given(rows=_rows, parts=st.lists(st.integers(0, 2), max_size=60), data=st.data())
def test_joined_parts_count_each_grants_bad_rows_and_first_date_as_one_checker_would(
    rows: list[tuple[str, int, int]], parts: list[int], data: st.DataObject
) -> None:
    """The rows split at random among three parts (a grant's rows in more than one part too),
    each part's result joined in any order: every grant's count and first date, the worst exit
    code and the listed lines are those of the rows checked in one process."""
    lines = list(range(2, 2 + len(rows)))
    chosen = [parts[i] if i < len(parts) else 0 for i in range(len(rows))]
    split = [[(r, n) for r, n, p in zip(rows, lines, chosen, strict=True) if p == k] for k in range(3)]
    order = data.draw(st.permutations(range(3)))
    joined = ImportResult()
    for k in order:
        joined.join(_reported([r for r, _n in split[k]], [n for _r, n in split[k]]))

    alone = _reported(rows, lines)
    grants = {grant for grant, _day, _code in rows}
    assert {g: joined.bad_rows_of(g) for g in grants} == {g: sum(r[0] == g for r in rows) for g in grants}
    assert joined.grants == {g: min(d for gr, d, _c in rows if gr == g) for g in grants} == alone.grants
    assert joined.bad_rows_of("nowhere") == 0
    assert joined.bad == alone.bad == len(rows) and joined.rows == len(rows)
    assert joined.worst == alone.worst == min((c for _g, _d, c in rows), default=0)
    assert [e.line for e in joined.errors] == [e.line for e in alone.errors] == lines[:LISTED_ERRORS]


def test_a_refusal_of_a_grant_per_row_keeps_no_count_by_grant() -> None:
    """A file of another ledger, each row naming a grant of its own: every grant is kept with its
    first date, but no count (one row each), so the writer holds one dictionary of them, not two."""
    one = _reported([(f"X{n}", n, 4) for n in range(0, 3000, 2)], list(range(2, 1502)))
    two = _reported([(f"X{n}", n, 4) for n in range(1, 3000, 2)], list(range(1502, 3002)))
    one.join(two)
    assert len(one.grants) == 3000 and one.by_grant == {}
    assert one.bad_rows_of("X2999") == 1 and one.bad == 3000 and one.unlisted == 3000 - LISTED_ERRORS
