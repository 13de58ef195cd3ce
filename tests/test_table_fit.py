"""A table fitted to the terminal (``emit(fit=…)``) shows the same columns whether or not the
columns that cannot fit were labelled first: those are left out before any label is looked up,
so that ``balance`` in English never loads the policy to name a programme it then drops."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import commands.reading as reading
from commands.cli import cli
from commands.context import Settings
from commands.output import display_width, table
from commands.totals import LABEL, Totals
from commands.totals import labelled as with_label
from ledger.i18n import speaking
from ledger.labels import label
from tests.conftest import Ledger
from tests.loaded import loaded_by


def _laid_out(
    keys: list[str], rows: list[list[Any]], fit: list[str], lang: str, totals: Totals | None = None
) -> str:
    @click.command()
    def show() -> None:
        reading.emit(
            title="t", keys=keys, headers=keys, rows=rows, fmt="table", output=None, fit=fit, totals=totals
        )

    with speaking(lang):  # as the command line's group sets it
        result = CliRunner().invoke(show, [], obj=Settings(db=None, actor=None, role=None, lang=lang))
    assert result.exit_code == 0, result.output
    return result.output


@settings(max_examples=150, deadline=None)
@given(
    widths=st.lists(st.integers(min_value=1, max_value=40), min_size=3, max_size=12),
    rows=st.integers(min_value=1, max_value=4),
    lang=st.sampled_from(["en", "zh"]),
    data=st.data(),
)
def test_leaving_out_first_shows_what_labelling_everything_shows(
    widths: list[int], rows: int, lang: str, data: st.DataObject
) -> None:
    # Columns in order of preference, some labelled (a programme the policy names, a status, a
    # fund source: each label wider or narrower than its code), the first few as wide in all as
    # the terminal give or take a column or two, where a bound too tight or too loose shows;
    # laid out in any order; a cell of the first row may be narrower than the others'.
    from ledger.policy import current_policy

    programmes = sorted(current_policy().programmes)
    preferred = [f"c{i}" for i in range(len(widths))]
    at = data.draw(st.lists(st.sampled_from(range(len(widths))), max_size=3, unique=True))
    for where, kind in zip(at, data.draw(st.permutations(["programme", "status", "source"])), strict=False):
        preferred[where] = kind
    kinds = {
        "programme": programmes,
        "status": ["approved", "closed", "applied"],
        "source": ["subsidy", "matching"],
    }
    cells: list[list[Any]] = [
        [data.draw(st.sampled_from(kinds[k])) if k in kinds else None for k in preferred] for _ in range(rows)
    ]
    with speaking(lang):  # each labelled column as wide as its header or its widest name
        named = [
            max(display_width(reading._(k)), *(display_width(label(k, row[i])) for row in cells))
            if k in kinds
            else 0
            for i, k in enumerate(preferred)
        ]
    edge = data.draw(st.integers(min_value=2, max_value=len(widths)))
    plain = [i for i in range(edge) if preferred[i] not in kinds]
    if plain:  # the first `edge` columns as wide as the terminal, less a little or more
        columns = list(zip(preferred, widths, named, strict=True))[:edge]
        wide = sum(max(w, 3) if k not in kinds else n for k, w, n in columns)
        short = reading.TERMINAL_WIDTH + data.draw(st.integers(-3, 3)) - wide - 2 * (edge - 1)
        widths[plain[-1]] = max(3, widths[plain[-1]] + short)
    for r, row in enumerate(cells):  # a plain column's first cell may be narrower than the rest
        for i, k in enumerate(preferred):
            if k not in kinds:
                w = max(widths[i], 3)
                row[i] = "x" * (w if r or rows == 1 else max(1, w // 3))
    keys = data.draw(st.permutations(preferred))
    laid = [[row[preferred.index(k)] for k in keys] for row in cells]
    laid_out = _laid_out(keys, laid, preferred, lang)
    assert laid_out == _everything_labelled(keys, laid, preferred, lang)
    names = {n for p in current_policy().programmes.values() for n in (p.zh, p.en)}
    if "programme" in laid_out.splitlines()[0]:  # shown: by its name, never its code
        assert any(name in laid_out for name in names)


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize(
    "kind,code", [("status", "approved"), ("source", "subsidy"), ("programme", "national_base")]
)
def test_a_labelled_column_at_the_edge_of_the_terminal(lang: str, kind: str, code: str) -> None:
    # the first three columns as wide as the terminal, one column either side of it: its label is
    # narrower than its code (已批复, approved), or wider (财政补助, a programme's name)
    with speaking(lang):
        header = reading._(kind)
        wide = max(display_width(label(kind, code)), display_width(header))
    for slack in range(-2, 3):
        first = reading.TERMINAL_WIDTH + slack - wide - 3 - 2 * 2
        keys = ["c0", "c1", kind, "c3"]
        rows = [["x" * first, "xxx", code, "x" * 9], ["y" * max(1, first - 5), "yyy", code, "y" * 9]]
        laid_out = _laid_out(keys, rows, keys, lang)
        assert laid_out == _everything_labelled(keys, rows, keys, lang), slack
        assert (header in laid_out.splitlines()[0]) == (slack <= 0)


def _everything_labelled(keys: list[str], rows: list[list[Any]], fit: list[str], lang: str) -> str:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reading, "_surely_fitting", lambda keys, headers, first, wanted, kinds: wanted)
        return _laid_out(keys, rows, fit, lang)


def test_balance_in_english_loads_no_policy_for_a_column_it_leaves_out(demo_sqlite_ledger: Ledger) -> None:
    url = demo_sqlite_ledger.url
    done = loaded_by(["--db", url, "--lang", "en", "balance"], ["ledger.policy"])
    assert done.code == 0, done
    assert done.modules == {"ledger.policy": False}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reading, "_surely_fitting", lambda keys, headers, first, wanted, kinds: wanted)
        everything = CliRunner().invoke(cli, ["--db", url, "--lang", "en", "balance"])
    assert everything.exit_code == 0
    assert done.stdout == everything.stdout
    assert "programme" not in done.stdout.splitlines()[0]


_TEXT = st.text(alphabet=st.sampled_from("ab1 重庆职业训练院（）ＡＢ—·é"), max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    columns=st.integers(min_value=1, max_value=9),
    rows=st.integers(min_value=1, max_value=5),
    lang=st.sampled_from(["en", "zh"]),
    data=st.data(),
)
def test_a_fitted_table_keeps_the_most_wanted_columns_that_fit(
    columns: int, rows: int, lang: str, data: st.DataObject
) -> None:
    # the columns kept are the most wanted whose table, rendered, has no line wider than the
    # terminal (or the two most wanted, whatever their width); one more would have one wider.
    # Cells of Chinese, full-width and accented text, amounts, blanks, and a 合计 row of amounts.
    keys = [f"k{i}" for i in range(columns)]
    money = {k for k in keys if data.draw(st.booleans())}
    cell = {
        k: st.decimals(min_value=0, max_value=10**12, places=2) if k in money else st.none() | _TEXT
        for k in keys
    }
    laid = [[data.draw(cell[k]) for k in keys] for _ in range(rows)]
    fit = data.draw(st.permutations(keys))
    totals = Totals(sums=tuple(sorted(money))) if money and data.draw(st.booleans()) else None

    def widest(kept: list[str]) -> int:
        at = [keys.index(k) for k in keys if k in kept]
        total = None
        if totals is not None:
            summed = [
                sum((r[i] for r in laid if r[i] is not None), Decimal("0.00")) if keys[i] in money else None
                for i in at
            ]
            total = with_label(summed, LABEL[lang])
        text = table([keys[i] for i in at], [[r[i] for i in at] for r in laid], total=total)
        return max(map(display_width, text.splitlines()))

    edge = data.draw(st.integers(min_value=1, max_value=columns))
    if fit[edge - 1] not in money:  # the first `edge` columns as wide as the terminal, give or take
        at, slack = keys.index(fit[edge - 1]), data.draw(st.integers(-3, 3))
        for _ in range(3):
            short = reading.TERMINAL_WIDTH + slack - widest(fit[:edge])
            if short > 0:
                laid[0][at] = (laid[0][at] or "") + "x" * short
    laid_out = _laid_out(keys, laid, fit, lang, totals)
    lines = laid_out.splitlines()
    shown = lines[0].split()
    assert shown == [k for k in keys if k in shown]
    assert shown == [k for k in keys if k in fit[: len(shown)]]

    assert max(map(display_width, lines)) == widest(shown)
    assert len(shown) <= 2 or widest(shown) <= reading.TERMINAL_WIDTH
    if len(shown) < columns:
        assert len(shown) >= 2 and widest(fit[: len(shown) + 1]) > reading.TERMINAL_WIDTH


def test_a_cell_past_the_keys_is_not_shown_nor_measured() -> None:
    keys = ["a", "b", "c"]
    assert _laid_out(keys, [["x", "y", "z", "更" * 200]], keys, "en") == _laid_out(
        keys, [["x", "y", "z"]], keys, "en"
    )
