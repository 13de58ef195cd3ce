"""Hostile input at every command's options and at the importer: arbitrary text, huge and tiny
numbers, odd Unicode, wrong dates, SQL-looking strings, very long values.

Every run ends with exit 0, 2, 3, 4 or 5 and (when refused) one line on stderr, never a
traceback; a refused command leaves the stored events byte-for-byte unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from commands.cli import cli
from tests.conftest import drop_pg_schema, fresh_pg_url, pg_unavailable
from tests.reliability import events, funded_grant
from tests.signing import url_key

ALLOWED = {0, 2, 3, 4, 5}
# hypothesis settings of every property here: examples share module fixtures and run whole commands
HOSTILE: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
}

NASTY = [
    "",
    " ",
    "'; DROP TABLE ledger_events; --",
    "1 OR 1=1",
    '" OR ""="',
    "G1'--",
    "%s%s%s%n",
    "{0}{1}",
    "\x00",
    "a\x00b",
    "\n",
    "line1\nline2",
    "\r\n",
    "\u202eevil",
    "\ufeffG1",
    "e\u0301",
    "𠀀𠀁",
    "🀄️💰",
    "\u3000",
    "Ｇ１",
    "null",
    "None",
    "-",
    "--help",
    "x" * 10_000,
    "記" * 5000,
    "../../etc/passwd",
]
NUMBERS = [
    "0",
    "-0",
    "-1",
    "0.001",
    "0.005",
    "1e9999",
    "1E-7",
    "NaN",
    "nan",
    "Infinity",
    "-inf",
    "9" * 40,
    "1" * 400,
    "1" * 5000,
    "0." + "0" * 300 + "1",
    "10000000000.01",
    "99999999999",
    "1,0000",
    "1,000,000.00.00",
    "¥",
    "万",
    "万元",
    "２０万",
    "٢٠٠",
    "२००",
    "20万万",
    "0x10",
    "1_000",
    "+5",
    " 5 ",
    "3.5万",
    "100",
    "200,000.00",
]
DATES = [
    "2024-02-30",
    "2023-02-29",
    "2024-13-01",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "24-5-1",
    "2024/05/10",
    "2024-05-10T00:00:00",
    "today",
    "２０２４-０５-１０",
    "2024-05-10",
    "2024-04-01",
    "2030-01-01",
]
MOMENTS = ["2024-05-01T17:30:00", "2024-05-01T09:30:00+00:00", "yesterday", "9999-99-99T99:99", "0"]

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
anything = st.one_of(text, st.sampled_from(NASTY), st.sampled_from(NUMBERS), st.sampled_from(DATES))
amount = st.one_of(st.sampled_from(NUMBERS), text, st.decimals(allow_nan=True).map(str))
day = st.one_of(st.just("2024-05-10"), st.sampled_from(DATES), text)
grant_id = st.one_of(st.just("G1"), st.just("G1"), st.just("G2"), anything)


def _opt(name: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """The option with a value, or left out (a required one then missing is a usage error)."""
    return st.one_of(value.map(lambda v: [name, v]), st.just([]))


def _req(name: str, value: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return value.map(lambda v: [name, v])


def _command(*parts: st.SearchStrategy[list[str]]) -> st.SearchStrategy[list[str]]:
    return st.tuples(*parts).map(lambda chunks: [a for chunk in chunks for a in chunk])


def _fixed(*words: str) -> st.SearchStrategy[list[str]]:
    return st.just(list(words))


def _one(value: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return value.map(lambda v: [v])


COMMANDS = st.one_of(
    _command(
        _fixed("unit", "register"),
        _one(anything),
        _req("--name", anything),
        _opt("--kind", st.one_of(st.just("technical_school"), anything)),
        _opt("--date", day),
    ),
    _command(
        _fixed("grant", "apply"),
        _one(grant_id),
        _req("--unit", st.one_of(st.just("U1"), anything)),
        _req("--base", anything),
        _opt("--base-name", anything),
        _req("--programme", st.one_of(st.just("district_base"), anything)),
        _opt("--project", anything),
        _req("--amount", amount),
        _opt("--date", day),
    ),
    _command(
        _fixed("grant", "approve"),
        _one(grant_id),
        _req("--amount", amount),
        _req("--document", anything),
        _opt("--body", anything),
        _opt("--start", day),
        _opt("--end", day),
        _opt("--date", day),
    ),
    _command(
        _fixed("disburse"),
        _one(grant_id),
        _req("--amount", amount),
        _req("--voucher", anything),
        _opt("--tranche", st.one_of(st.integers(-(2**70), 2**70).map(str), anything)),
        _opt("--date", day),
    ),
    _command(
        _fixed("match", "commit"),
        _one(grant_id),
        _req("--amount", amount),
        _req("--funder", anything),
        _req("--voucher", anything),
        _opt("--date", day),
    ),
    _command(
        _fixed("match", "receive"),
        _one(grant_id),
        _req("--amount", amount),
        _req("--voucher", anything),
        _opt("--date", day),
    ),
    _command(
        _fixed("spend"),
        _one(grant_id),
        _req("--amount", amount),
        _req("--category", st.one_of(st.sampled_from(["equipment", "travel", "labour", "差旅费"]), anything)),
        _opt("--source", st.one_of(st.sampled_from(["subsidy", "matching"]), anything)),
        _req("--voucher", anything),
        _opt("--content", anything),
        _opt("--project", anything),
        _opt("--payee", anything),
        _opt("--memo", anything),
        _opt("--attachment", st.sampled_from(["/nonexistent", "/", "/dev/null", "", "\x00"])),
        _opt("--date", day),
    ),
    _command(
        _fixed("reverse"),
        _one(grant_id),
        _req("--voucher", anything),
        _req("--reason", anything),
        _opt("--date", day),
    ),
    _command(
        _fixed("balance"),
        st.lists(anything, max_size=2),
        _opt("--as-of", day),
        _opt("--known-at", st.one_of(st.sampled_from(MOMENTS), anything)),
        _opt("--format", st.one_of(st.sampled_from(["table", "json", "csv"]), anything)),
    ),
    _command(
        _fixed("history"),
        _one(grant_id),
        _opt("--as-of", day),
        _opt("--known-at", st.one_of(st.sampled_from(MOMENTS), anything)),
    ),
)
GLOBAL = st.one_of(
    st.just(["--role", "officer"]),
    st.just(["--role", "approver"]),
    _command(
        _opt("--role", st.sampled_from(["officer", "approver", "auditor", "admin", ""])),
        _opt("--actor", st.one_of(st.just("tester"), anything)),
        _opt("--lang", st.sampled_from(["en", "zh", "fr"])),
    ),
)


def _check(result: object, before: list[object], after: list[object], summary_last: bool = False) -> None:
    code = result.exit_code  # type: ignore[attr-defined]
    out, err = result.stdout, result.stderr  # type: ignore[attr-defined]
    assert code in ALLOWED, (code, out[-500:], err[-2000:], result.exception)  # type: ignore[attr-defined]
    assert "Traceback" not in out + err
    if code != 0:
        lines = err.strip().splitlines()
        # the importer lists every bad row ("books.csv:7: ...") before its one-line verdict
        verdict = lines[-1] if summary_last and lines else (lines[0] if lines else "")
        assert verdict.startswith("grant-ledger: "), err[-500:]
        assert after == before  # a refused command writes nothing, byte for byte
    return None


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'ledger.db'}"
    funded_grant(url, "100000.00")
    return url


@settings(max_examples=250, **HOSTILE)
@given(head=GLOBAL, command=COMMANDS)
@example(head=[], command=["spend", "G1", "--amount", "1" * 40, "--category", "equipment", "--voucher", "V"])
@example(head=[], command=["disburse", "G1", "--amount", "9" * 29 + ".5", "--voucher", "T9"])
@example(head=[], command=["balance", "--as-of", "2024-05-10", "--known-at", "0001-01-01"])
def test_every_command_survives_hostile_options(hostile_db: str, head: list[str], command: list[str]) -> None:
    _survives(hostile_db, head, command)


@pytest.fixture(scope="module")
def hostile_pg_db() -> Iterator[str]:
    if (reason := pg_unavailable()) is not None:
        pytest.skip(reason)
    url = fresh_pg_url()
    funded_grant(url, "100000.00")
    yield url
    drop_pg_schema(url)


@settings(max_examples=50, **HOSTILE)
@given(head=GLOBAL, command=COMMANDS)
@example(head=[], command=["spend", "G1", "--amount", "1", "--category", "equipment", "--voucher", "V1",
                           "--source", "subsidy", "--date", "2024-05-10",
                           "--content", "长" * 100])  # fmt: skip
def test_every_command_survives_hostile_options_on_postgresql(
    hostile_pg_db: str, head: list[str], command: list[str]
) -> None:
    """PostgreSQL enforces what SQLite lets pass (VARCHAR lengths, NUL in text): the same drill."""
    _survives(hostile_pg_db, head, command)


def _key(url: str, role: str = "officer") -> list[str]:
    """``--key`` with the registered key of ``tester`` in ``role`` (made once per ledger and role):
    without it every write would stop at the missing key, before the input is looked at."""
    if (url, role) not in _KEYS:
        _KEYS[url, role] = str(url_key(url, role))
    return ["--key", _KEYS[url, role]]


_KEYS: dict[tuple[str, str], str] = {}


def _survives(url: str, head: list[str], command: list[str]) -> None:
    runner = CliRunner()
    claimed = head[head.index("--role") + 1] if "--role" in head else "officer"
    key = _key(url, claimed if claimed in ("officer", "approver", "auditor") else "officer")
    before = events(url)  # after the key's first use registered its person
    result = runner.invoke(cli, ["--db", url, *key, *head, *command])
    for line in result.stderr.strip().splitlines()[1:]:
        pytest.fail(f"more than one line on stderr: {result.stderr[-1000:]!r}") if line else None
    _check(result, before, events(url))


HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"
KINDS = ["approve", "disburse", "match_commit", "match_receive", "spend", "reverse", "delete", ""]
row = st.tuples(
    day,
    st.one_of(st.just("U1"), anything),
    st.one_of(st.just("B0001"), anything),
    grant_id,
    st.one_of(st.just("district_base"), anything),
    st.one_of(st.sampled_from(KINDS), anything),
    amount,
    st.one_of(st.sampled_from(["subsidy", "matching"]), anything),
    st.one_of(st.just("equipment"), anything),
    anything,
    anything,
    anything,
    anything,
)


def _csv(rows: list[tuple[str, ...]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for r in rows:
        writer.writerow(r)
    return buffer.getvalue()


@settings(max_examples=80, **HOSTILE)
@given(
    header=st.one_of(st.just(HEADER), st.just("\ufeff" + HEADER), text, st.just(HEADER.upper())),
    rows=st.lists(row, max_size=4),
    raw=st.one_of(st.none(), st.binary(max_size=300)),
)
def test_the_importer_survives_hostile_files(
    hostile_db: str,
    tmp_path_factory: pytest.TempPathFactory,
    header: str,
    rows: list[tuple[str, ...]],
    raw: bytes | None,
) -> None:
    path = Path(tmp_path_factory.mktemp("import")) / "books.csv"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(header + "\n" + _csv(rows), encoding="utf-8", errors="surrogatepass")
    key = _key(hostile_db)
    before = events(hostile_db)
    result = CliRunner().invoke(cli, ["--db", hostile_db, "--lang", "en", *key, "import", str(path)])
    _check(result, before, events(hostile_db), summary_last=True)


@pytest.fixture(scope="module")
def workbook_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Its own ledger: a damaged workbook that still reads imports its rows (later ones repeat)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('workbook-db') / 'ledger.db'}"
    funded_grant(url, "100000.00")
    _approve_g9(url, tmp_path_factory.mktemp("approvals"))
    return url


G9_APPROVAL = (
    "2024-04-01,U9,B0009,G9,district_base,approve,200000,,,,渝人社〔2024〕9号,,2024-04-01..2026-03-31"
)


def _approve_g9(url: str, folder: Path) -> None:
    """G9 brought in by an approver's import: the workbook holds an officer's rows."""
    path = folder / "approvals.csv"
    path.write_text(f"{HEADER}\n{G9_APPROVAL}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", url, *_key(url, "approver"), "import", str(path)])
    assert result.exit_code == 0, result.stderr


def test_the_good_workbook_imports(workbook_to_import: bytes, tmp_path: Path) -> None:
    """The property below damages this workbook: undamaged, it imports (so damage is what fails)."""
    path = tmp_path / "books.xlsx"
    path.write_bytes(workbook_to_import)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    _approve_g9(url, tmp_path)
    result = CliRunner().invoke(cli, ["--db", url, "--lang", "en", *_key(url), "import", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "imported 50 rows of books.xlsx" in result.stdout


@pytest.fixture(scope="module")
def workbook_to_import(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A good import workbook of an officer's rows: a grant's money in, spending (50 rows)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(["2024-04-10", "", "", "G9", "", "disburse", "120000", "", "", "", "T9", "", "1"])
    for n in range(49):
        sheet.append(["2024-05-10", "", "B0009", "G9", "", "spend", f"{100 + n}.50", "subsidy", "equipment",
                      "", f"S{n}", "某设备公司", ""])  # fmt: skip
    path = tmp_path_factory.mktemp("workbook") / "good.xlsx"
    book.save(path)
    return path.read_bytes()


@settings(max_examples=40, **HOSTILE)
@given(data=st.data())
def test_a_damaged_workbook_is_refused_in_one_sentence_and_nothing_is_written(
    workbook_db: str, workbook_to_import: bytes, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    """Raw edits of an import workbook (a zip of XML): bad CRC, bad deflate data, bad XML inside a
    sheet that is read as it streams. Each is exit 2 with one line naming the file, or, where the
    damage does not matter, a normal import."""
    raw = workbook_to_import
    at = data.draw(st.integers(0, len(raw) - 1))
    how = data.draw(st.sampled_from(["replace", "insert", "cut"]))
    if how == "replace":
        edited = (
            raw[:at] + bytes([data.draw(st.integers(0, 255).filter(lambda b: b != raw[at]))]) + raw[at + 1 :]
        )
    elif how == "insert":
        edited = raw[:at] + data.draw(st.binary(min_size=1, max_size=8)) + raw[at:]
    else:
        edited = raw[:at] + raw[at + data.draw(st.integers(1, 64)) :]
    path = Path(tmp_path_factory.mktemp("import")) / "books.xlsx"
    path.write_bytes(edited)
    key = _key(workbook_db)
    before = events(workbook_db)
    result = CliRunner().invoke(cli, ["--db", workbook_db, *key, "--role", "officer", "import", str(path)])
    _check(result, before, events(workbook_db), summary_last=True)
    if "not a readable Excel workbook" in result.stderr:
        assert result.exit_code == 2


def test_a_workbook_whose_sheet_cannot_be_found_is_refused_in_one_sentence(
    workbook_db: str, workbook_to_import: bytes, tmp_path: Path
) -> None:
    """The workbook's relationships point its one sheet at a part that is not there (hypothesis
    found it as one damaged byte): openpyxl opens the book with no worksheet at all. Exit 2, one
    line naming the file, nothing written — not an internal error."""
    import io
    import zipfile

    edited = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook_to_import)) as good, zipfile.ZipFile(edited, "w") as bad:
        for item in good.infolist():
            data = good.read(item)
            if item.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"worksheets/sheet1.xml", b"worksheets/sheet9.xml")
            bad.writestr(item, data)
    path = tmp_path / "books.xlsx"
    path.write_bytes(edited.getvalue())
    before = events(workbook_db)
    result = CliRunner().invoke(
        cli, ["--db", workbook_db, *_key(workbook_db), "--role", "officer", "import", str(path)]
    )
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "books.xlsx" in result.stderr and "no worksheet" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert events(workbook_db) == before
