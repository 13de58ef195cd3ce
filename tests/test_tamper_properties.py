"""Every tamper with an audit bundle's events is caught: a property over generated edits.

One bundle is exported once; each example copies it, tampers with ``events.jsonl`` (an edited
value, with or without its recomputed leaf hash; a line deleted, duplicated or moved, with or
without renumbering; raw bytes changed, inserted or cut), often rewriting the MANIFEST as a
careful forger would, and runs ``audit verify`` from the command line. Verify must never crash;
it exits 6 for every edit that changes what the events say, and passes only a file whose lines
still parse to exactly the exported ones.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.bundle import write_manifest
from audit.verifier.canonical import record_leaf_hash
from commands.cli import cli
from tests.test_workbook_verified import exported_history

EXAMPLES = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_history(tmp_path_factory.mktemp("tamper"))


def _verify(bundle: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli,
        ["--lang", "en", "--role", "auditor", "audit", "verify", "--unanchored", str(bundle)],
        catch_exceptions=False,
    )
    assert result.exit_code in (0, 6), (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result.exit_code, result.stdout


def _parsed(raw: bytes) -> list[Any] | None:
    try:
        return [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    except ValueError:
        return None


def _write(bundle: Path, lines: list[dict[str, Any]], manifest: bool) -> None:
    text = "".join(json.dumps(x, ensure_ascii=False, separators=(",", ":")) + "\n" for x in lines)
    (bundle / "events.jsonl").write_text(text, encoding="utf-8")
    if manifest:
        write_manifest(bundle)


@contextmanager
def _copied(exported: Path) -> Iterator[Path]:
    """A copy of the exported bundle to tamper with, removed afterwards."""
    with tempfile.TemporaryDirectory() as into:
        bundle = Path(into) / "bundle"
        shutil.copytree(exported, bundle)
        yield bundle


def _lines_of(bundle: Path) -> list[Any]:
    lines = _parsed((bundle / "events.jsonl").read_bytes())
    assert lines is not None
    return lines


def _leaves_with(lines: list[dict[str, Any]], key: str) -> list[int]:
    return [n for n, x in enumerate(lines) if key in x.get("record", {}).get("state", {})]


def _raw_edit(data: st.DataObject, raw: bytes) -> bytes:
    """``raw`` with one byte replaced, a few inserted, or a run cut."""
    at = data.draw(st.integers(0, len(raw) - 1))
    how = data.draw(st.sampled_from(["replace", "insert", "cut"]))
    if how == "replace":
        byte = data.draw(st.integers(0, 255).filter(lambda b: b != raw[at]))
        return raw[:at] + bytes([byte]) + raw[at + 1 :]
    if how == "insert":
        return raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    return raw[:at] + raw[at + data.draw(st.integers(1, 64)) :]


@EXAMPLES
@given(data=st.data(), rehash=st.booleans(), manifest=st.booleans())
def test_an_edited_value_is_caught_even_with_its_leaf_hash_recomputed(
    exported: Path, data: st.DataObject, rehash: bool, manifest: bool
) -> None:
    with _copied(exported) as bundle:
        lines = _lines_of(bundle)
        field = data.draw(
            st.sampled_from(["amount", "voucher", "category", "source", "occurred_on", "actor"])
        )
        at = data.draw(st.sampled_from(_leaves_with(lines, field)))
        state = lines[at]["record"]["state"]
        old = state[field]
        text = old["_data_"] if isinstance(old, dict) else old
        new = data.draw(st.text(min_size=1, max_size=12).filter(lambda t: t != text))
        if isinstance(old, dict):
            state[field] = {**old, "_data_": new}
        else:
            state[field] = new
        if rehash:
            lines[at]["leaf_hash"] = record_leaf_hash(lines[at]["record"]).hex()
        _write(bundle, lines, manifest)
        code, out = _verify(bundle)
        assert code == 6, out
        assert f"(leaf {lines[at]['leaf_index']})" in out or "root of the first" in out


@EXAMPLES
@given(data=st.data(), renumber=st.booleans(), manifest=st.booleans())
def test_a_deleted_duplicated_or_moved_event_is_caught(
    exported: Path, data: st.DataObject, renumber: bool, manifest: bool
) -> None:
    with _copied(exported) as bundle:
        lines = _lines_of(bundle)
        how = data.draw(st.sampled_from(["delete", "duplicate", "move"]))
        at = data.draw(st.integers(0, len(lines) - 1))
        if how == "delete":
            lines.pop(at)
        elif how == "duplicate":
            lines.insert(data.draw(st.integers(0, len(lines))), dict(lines[at]))
        else:
            moved = lines.pop(at)
            lines.insert(data.draw(st.integers(0, len(lines)).filter(lambda n: n != at)), moved)
        if renumber:
            lines = [{**x, "leaf_index": n} for n, x in enumerate(lines)]
        _write(bundle, lines, manifest)
        code, out = _verify(bundle)
        assert code == 6, out


@EXAMPLES
@given(data=st.data(), manifest=st.booleans())
def test_raw_byte_edits_never_crash_verify_and_pass_only_when_the_events_are_unchanged(
    exported: Path, data: st.DataObject, manifest: bool
) -> None:
    with _copied(exported) as bundle:
        path = bundle / "events.jsonl"
        raw = path.read_bytes()
        edited = _raw_edit(data, raw)
        path.write_bytes(edited)
        if manifest:
            write_manifest(bundle)
        code, out = _verify(bundle)
        if code == 0:  # e.g. whitespace between a line's fields: the same events, still whole
            assert manifest and _parsed(edited) == _parsed(raw), out


@pytest.mark.parametrize("amount", ["Infinity", "-NaN", "sNaN", "1E+999999999", "1e2", " 12.00", "12,000.00"])
def test_an_amount_no_ledger_writes_is_a_replay_failure_even_with_its_leaf_hash(
    exported: Path, amount: str
) -> None:
    with _copied(exported) as bundle:
        lines = _lines_of(bundle)
        at = _leaves_with(lines, "amount")[-1]
        lines[at]["record"]["state"]["amount"]["_data_"] = amount
        lines[at]["leaf_hash"] = record_leaf_hash(lines[at]["record"]).hex()
        _write(bundle, lines, manifest=True)
        code, out = _verify(bundle)
        assert code == 6
        assert f"(leaf {lines[at]['leaf_index']}): replay: no decimal amount" in out
        assert "is not a plain amount like 1200.00" in out


@EXAMPLES
@given(data=st.data(), manifest=st.booleans())
def test_raw_edits_of_the_bundle_s_other_files_never_crash_verify(
    exported: Path, data: st.DataObject, manifest: bool
) -> None:
    """The workbook, the bundle's description, a checkpoint, the manifest: garbage in any of them
    is a failure (or, where the bytes do not matter, a pass), never an internal error."""
    others = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
    name = data.draw(st.sampled_from([n for n in others if n != "events.jsonl"]))
    with _copied(exported) as bundle:
        path = bundle / name
        raw = path.read_bytes()
        edited = _raw_edit(data, raw)
        path.write_bytes(edited)
        if manifest and name != "MANIFEST":
            write_manifest(bundle)
        code, out = _verify(bundle)
        if not manifest and name != "MANIFEST":
            assert code == 6 and f"MANIFEST: sha256 of {name} differs" in out, out


# ----------------------------------------------------------------------------- every sheet, every file
#
# What a person reads: every sheet's name, visibility and cell values in the workbook, and the
# content of each other file (bundle.json parsed, the keys as keys, the rest as text). An edit that
# leaves all of it as it was may pass; any other edit must fail.


def _book_read(path: Path) -> Any:
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, data_only=True)
    except Exception:  # unreadable: nothing a person could read as the bundle's
        return None
    return [
        (sheet.title, sheet.sheet_state, _shown(sheet.iter_rows(values_only=True)))
        for sheet in book.worksheets
    ]


def _shown(rows: Any) -> list[tuple[Any, ...]]:
    """Rows as a person sees them: an empty text is an empty cell; trailing empties are nothing."""
    shown = []
    for row in rows:
        values = [None if v == "" else v for v in row]
        while values and values[-1] is None:
            values.pop()
        shown.append(tuple(values))
    while shown and not shown[-1]:
        shown.pop()
    return shown


def _file_read(path: Path) -> Any:
    from audit.verifier.checkpoint import KeyFileError, load_public_key

    raw = path.read_bytes()
    if path.name == "report.xlsx":
        return _book_read(path)
    if path.name == "bundle.json":
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    if path.suffix == ".pub":
        try:
            return load_public_key(path).public_bytes_raw()
        except (KeyFileError, ValueError):
            return raw
    return raw


def _read(bundle: Path) -> dict[str, Any]:
    return {
        p.relative_to(bundle).as_posix(): _file_read(p)
        for p in sorted(bundle.rglob("*"))
        if p.is_file() and p.name != "MANIFEST"
    }


cell_values = st.one_of(
    st.none(),
    st.integers(-10, 10**9),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=12),
    st.dates(),
)


@pytest.mark.slow
@EXAMPLES
@given(data=st.data())
def test_an_edited_cell_of_any_sheet_passes_only_when_what_a_person_reads_is_unchanged(
    exported: Path, data: st.DataObject
) -> None:
    from openpyxl import load_workbook

    with _copied(exported) as bundle:
        path = bundle / "report.xlsx"
        before = _book_read(path)
        book = load_workbook(path)
        sheet = book[data.draw(st.sampled_from(book.sheetnames))]
        row = data.draw(st.integers(1, sheet.max_row + 1))
        column = data.draw(st.integers(1, sheet.max_column + 1))
        for merged in [r for r in sheet.merged_cells.ranges if (row, column) in list(r.cells)]:
            sheet.unmerge_cells(str(merged))  # a title across the sheet: a forger unmerges it first
        old = sheet.cell(row=row, column=column).value
        new = data.draw(st.one_of(st.just(old), cell_values))
        if isinstance(new, str):
            new = new.strip("=") or None  # text, not a formula (formulas: the next test)
        sheet.cell(row=row, column=column, value=new)
        book.save(path)
        write_manifest(bundle)
        code, out = _verify(bundle)
        if _book_read(path) == before:
            assert code == 0, out
        else:
            assert code == 6, (sheet.title, row, column, old, new, out)
            assert f"{sheet.title}!" in out or "report.xlsx" in out


STRUCTURE = ["hide", "very hide", "rename", "move first", "move last", "add", "delete", "formula", "name"]


@EXAMPLES
@given(data=st.data(), how=st.sampled_from(STRUCTURE))
def test_a_changed_sheet_list_fails(exported: Path, data: st.DataObject, how: str) -> None:
    from openpyxl import load_workbook
    from openpyxl.workbook.defined_name import DefinedName

    with _copied(exported) as bundle:
        path = bundle / "report.xlsx"
        book = load_workbook(path)
        name = data.draw(st.sampled_from(book.sheetnames))
        sheet = book[name]
        if how == "hide":
            sheet.sheet_state = "hidden"
        elif how == "very hide":
            sheet.sheet_state = "veryHidden"
        elif how == "rename":
            sheet.title = name + data.draw(st.sampled_from([" ", "2", " (2)"]))
        elif how in ("move first", "move last"):
            offset = (
                -book.index(sheet) if how == "move first" else len(book.sheetnames) - 1 - book.index(sheet)
            )
            if offset == 0:
                offset = 1 if how == "move first" else -1
            book.move_sheet(sheet, offset)
        elif how == "add":
            book.create_sheet(data.draw(st.sampled_from(["notes", "balances (2)", "Sheet"])))
        elif how == "delete":
            book.remove(sheet)
        elif how == "formula":
            sheet.cell(row=2, column=1, value="=1+1")
        else:
            book.defined_names["shown"] = DefinedName("shown", attr_text=f"'{name}'!$A$1")
        book.save(path)
        write_manifest(bundle)
        code, out = _verify(bundle)
        assert code == 6, (how, name, out)
        assert "report.xlsx" in out


@EXAMPLES
@given(data=st.data())
def test_a_raw_edit_of_any_file_passes_only_when_what_a_person_reads_is_unchanged(
    exported: Path, data: st.DataObject
) -> None:
    """Every file of the bundle, MANIFEST recomputed as a careful forger would."""
    others = sorted(p.relative_to(exported).as_posix() for p in exported.rglob("*") if p.is_file())
    name = data.draw(st.sampled_from([n for n in others if n not in ("events.jsonl", "MANIFEST")]))
    with _copied(exported) as bundle:
        before = _read(bundle)
        path = bundle / name
        path.write_bytes(_raw_edit(data, path.read_bytes()))
        write_manifest(bundle)
        code, out = _verify(bundle)
        if code == 0:
            assert _read(bundle) == before, (name, out)
