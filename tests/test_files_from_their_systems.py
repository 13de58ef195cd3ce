"""Files from a finance office's own systems (issue 18, item 4): GB18030/GBK text as their Windows
tools write it, a Chinese header, tab-separated text, the dates officers write, and the one date
rule every --date option shares with the import. Whatever is read is said; what cannot be read
for sure is refused in one sentence, and nothing is written."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from pathlib import Path

import pytest

from commands.cli import cli
from ledger.import_format import HEADER
from tests.conftest import Ledger, approved_district_grant

ZH_HEADER = ["日期", "单位编号", "基地编号", "项目编号", "项目类型", "业务类型", "金额", "资金来源",
             "支出类别", "建设内容", "凭证号", "收款方", "备注"]  # fmt: skip
# 003 表4-2's construction contents by the names a finance system writes, recorded by their codes
CONTENTS = {"构建完善的高技能人才培训体系": "training_system", "校企合作提升培训能力": "cooperation",
            "总结技能人才培养规律": "patterns"}  # fmt: skip
# one spend per date form officers write, each on its own day of May 2024
DATE_FORMS = ["2024-05-10", "2024/05/11", "2024年5月12日", "2024.05.13", "2024/5/14", "２０２４年５月１５日"]


def _funded(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")


def _spends(separator: str) -> list[str]:
    return [
        separator.join([day, "", "B0001", "G1", "", "spend", "1000", "subsidy", "equipment",
                        list(CONTENTS)[n % 3], f"记-{n}", "重庆某某科技有限公司", "摘要"])
        for n, day in enumerate(DATE_FORMS)
    ]  # fmt: skip


def _exported(ledger: Ledger) -> list[dict[str, str]]:
    text = ledger.ok("export", "--format", "csv", "--codes").stdout
    return [row for row in csv.DictReader(io.StringIO(text)) if row["kind"] == "spend"]


@pytest.mark.parametrize(
    ("name", "encoding", "separator", "said"),
    [
        ("凭证.csv", "gb18030", ",", "read as GB18030, comma-separated"),
        ("凭证.tsv", "gbk", "\t", "read as GB18030, tab-separated"),
        ("凭证.csv", "gb2312", "\t", "read as GB18030, tab-separated"),  # detected from the header line
        ("凭证.tsv", "utf-8-sig", "\t", "read as UTF-8 (with BOM), tab-separated"),
        ("凭证.txt", "utf-8", ",", ""),  # as the export writes it: nothing to say
    ],
)
def test_a_file_of_their_system_is_read_with_its_chinese_header_and_dates_and_says_how(
    sqlite_ledger: Ledger, tmp_path: Path, name: str, encoding: str, separator: str, said: str
) -> None:
    _funded(sqlite_ledger)
    path = tmp_path / name
    text = "\r\n".join([separator.join(ZH_HEADER), *_spends(separator)]) + "\r\n"
    path.write_bytes(text.encode(encoding))
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert f"{name}: {said}" in result.stderr if said else "read as" not in result.stderr
    assert f"imported {len(DATE_FORMS)} rows" in result.stdout
    spends = _exported(sqlite_ledger)
    assert [row["date"] for row in spends] == [f"2024-05-{d}" for d in range(10, 16)]
    codes = list(CONTENTS.values())
    assert [row["content"] for row in spends] == [codes[n % 3] for n in range(len(DATE_FORMS))]
    assert {row["payee"] for row in spends} == {"重庆某某科技有限公司"}
    assert sqlite_ledger.balances()["B0001"]["subsidy_spent"] == f"{1000 * len(DATE_FORMS)}.00"


@pytest.mark.parametrize(
    ("content", "refusal"),
    [
        # a byte neither reads (0x81 followed by a space is no GB18030 character either)
        (",".join(HEADER).encode() + b"\r\n2024-05-10,,B0001,G1,,spend,1000,subsidy,equipment,\x81 ,S1,,\r\n",
         "is neither UTF-8 nor GB18030/GBK text"),
        # Excel's "Unicode text"
        (("\t".join(HEADER) + "\n").encode("utf-16"), "is UTF-16 text"),
        # UTF-32, whose mark begins as UTF-16's does (it had been named UTF-16), both byte orders
        (("\t".join(HEADER) + "\n").encode("utf-32"), "is UTF-32 text"),
        (codecs.BOM_UTF32_BE + ("\t".join(HEADER) + "\n").encode("utf-32-be"), "is UTF-32 text"),
        # a Chinese header in UTF-8, rows in GBK: read as GB18030, the header would be other characters
        ((",".join(ZH_HEADER) + "\r\n").encode() + "\r\n".join(_spends(",")).encode("gbk"),
         "mixes encodings: line 1 is UTF-8 but byte"),
        # GBK rows from the finance system, then a row typed in a UTF-8 editor: read whole as
        # GB18030, that row's voucher and payee had been stored as other characters (exit 0)
        (("\r\n".join([",".join(ZH_HEADER), *_spends(",")[:2]]) + "\r\n").encode("gbk")
         + (_spends(",")[2] + "\r\n").encode(),
         "mixes encodings: line 4 is UTF-8 but byte"),
        # the same, the UTF-8 row far past the first megabyte read
        ((",".join(ZH_HEADER) + "\r\n" + (_spends(",")[0] + "\r\n") * 20_000).encode("gbk")
         + (_spends(",")[1] + "\r\n").encode() + (_spends(",")[2] + "\r\n").encode("gbk"),
         "mixes encodings: line 20002 is UTF-8 but byte"),
        # an English header, and GBK text that is valid UTF-8 of other letters: 实训 had been
        # recorded as ʵѵ without a word (exit 0)
        ((",".join(HEADER) + "\r\n").encode()
         + b"2024-05-10,,B0001,G1,,spend,1000,subsidy,equipment,,S1,ACME," + "实训".encode("gbk") + b"\r\n",
         "books.csv: line 2 reads as UTF-8 as ʵѵ and as GBK as 实训, and no line holds Chinese"),
        # a UTF-8 BOM, then GBK
        (b"\xef\xbb\xbf" + (",".join(HEADER) + "\r\n" + "\r\n".join(_spends(","))).encode("gbk"),
         "mixes encodings: starts as UTF-8 (a BOM) but byte"),
    ],
)  # fmt: skip
def test_text_that_is_not_surely_utf8_or_gb18030_is_refused_in_one_sentence(
    sqlite_ledger: Ledger, tmp_path: Path, content: bytes, refusal: str
) -> None:
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    path = tmp_path / "books.csv"
    path.write_bytes(content)
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2, result.stderr
    assert refusal in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert sqlite_ledger.event_count() == before


def test_gbk_text_that_happens_to_read_as_utf8_is_read_as_gbk(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    """A payee 濮洪波 in GBK is valid UTF-8 (姺鲨): the file had been refused as mixing encodings."""
    _funded(sqlite_ledger)
    path = tmp_path / "gbk.csv"
    row = "2024-05-10,,B0001,G1,,spend,1000,subsidy,equipment,training_system,S{n},{payee},"
    rows = [",".join(ZH_HEADER), row.format(n=1, payee="张三"), row.format(n=2, payee="濮洪波")]
    path.write_bytes(("\r\n".join(rows) + "\r\n").encode("gbk"))
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert [row["payee"] for row in _exported(sqlite_ledger)] == ["张三", "濮洪波"]


def test_a_chinese_name_and_its_column_together_are_a_column_named_twice(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    path = tmp_path / "books.csv"
    path.write_text(",".join([*HEADER, "金额"]) + "\n" + _spends(",")[0] + ",5\n", encoding="utf-8")
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2
    assert "the header names amount more than once" in result.stderr
    assert sqlite_ledger.event_count() == before


@pytest.mark.parametrize("day", ["2024/05/10", "2024/5/10", "2024年5月10日", "2024年05月10日", "2024.05.10",
                                 "2024-5-10", " 2024-05-10 "])  # fmt: skip
def test_every_date_option_takes_the_dates_officers_write(sqlite_ledger: Ledger, day: str) -> None:
    _funded(sqlite_ledger)
    sqlite_ledger.ok("spend", "G1", "--amount", "1000", "--category", "equipment", "--source", "subsidy",
                     "--voucher", "S1", "--date", day)  # fmt: skip
    found = json.loads(sqlite_ledger.ok("find", "S1", "--format", "json").stdout)
    assert [f["occurred_on"] for f in found] == ["2024-05-10"]
    # --as-of (balance, report findings, audit export) and a person's --date take the same forms
    as_of = sqlite_ledger.ok("balance", "--as-of", day, "--format", "json").stdout
    assert json.loads(as_of)[0]["subsidy_spent"] == "1000.00"
    earlier = day.replace("10", "09", 1) if "10" in day else day
    assert (
        json.loads(sqlite_ledger.ok("balance", "--as-of", earlier, "--format", "json").stdout)[0][
            "subsidy_spent"
        ]
        == "0.00"
    )
    assert sqlite_ledger("report", "findings", "--as-of", day).exit_code == 0
    revoked = sqlite_ledger("people", "revoke", sqlite_ledger.name("auditor"), "--date", day, role="admin")
    assert revoked.exit_code == 0, revoked.stderr
    listed = json.loads(sqlite_ledger.ok("people", "list", "--format", "json").stdout)
    assert {r["until"] for r in listed if r["name"] == sqlite_ledger.name("auditor")} == {"2024-05-10"}


@pytest.mark.parametrize(
    "day",
    ["2024/05-10", "10/05/2024", "05/10/2024", "24-5-10", "2024年13月1日", "2024年2月30日",
     "2024-05-10 00:00", "2024.5.10.", "2024-005-10", "2024年5月", "2024５月10日", "２０２４/05/10x",
     "٢٠٢٤-٠٥-١٠"],
)  # fmt: skip
def test_dates_of_no_sure_order_or_no_such_day_are_refused_typed_and_imported(
    sqlite_ledger: Ledger, tmp_path: Path, day: str
) -> None:
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    typed = sqlite_ledger("disburse", "G1", "--amount", "100", "--voucher", "T2", "--tranche", "2",
                          "--date", day)  # fmt: skip
    assert typed.exit_code == 2
    assert f"{day!r} is not a date; write it as YYYY-MM-DD" in typed.stderr
    as_of = sqlite_ledger("balance", "--as-of", day)
    assert as_of.exit_code == 2 and "is not a date" in as_of.stderr
    path = tmp_path / "books.csv"
    path.write_text(f"{','.join(HEADER)}\n{day},,B0001,G1,,disburse,100,,,,T2,,2\n", encoding="utf-8")
    imported = sqlite_ledger("import", str(path))
    assert imported.exit_code == 2
    assert f"books.csv:2: date: {day!r} is not a date" in imported.stderr
    assert sqlite_ledger.event_count() == before


def test_an_approval_imported_with_its_build_period_in_chinese_dates(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    sqlite_ledger.ok("unit", "register", "U1", "--name", "单位U1", "--date", "2024-02-01")
    path = tmp_path / "approvals.csv"
    row = ["2024年4月1日", "U1", "B0001", "G1", "district_base", "approve", "200000", "", "", "",
           "渝人社〔2024〕1号", "", "2024年4月1日至2026年3月31日"]  # fmt: skip
    path.write_bytes((",".join(ZH_HEADER) + "\n" + ",".join(row) + "\n").encode("gbk"))
    result = sqlite_ledger("import", str(path), role="approver")
    assert result.exit_code == 0, result.stderr
    approvals = [r for r in csv.DictReader(io.StringIO(sqlite_ledger.ok("export", "--codes").stdout))]
    assert [(r["date"], r["memo"]) for r in approvals] == [("2024-04-01", "2024-04-01..2026-03-31")]


def test_the_import_help_shows_the_header_whole_at_80_columns() -> None:
    from click.testing import CliRunner

    shown = CliRunner().invoke(cli, ["--lang", "en", "import", "--help"], terminal_width=80)
    assert shown.exit_code == 0
    words = {w for line in shown.stdout.splitlines() for w in re.split(r"[\s,]+", line.strip())}
    assert set(HEADER) <= words, sorted(set(HEADER) - words)
    assert set(ZH_HEADER) <= words, sorted(set(ZH_HEADER) - words)
    assert all(len(line) <= 80 for line in shown.stdout.splitlines() if "," in line and "_" in line)


# ----------------------------------------------------------------------------- files written for them

BOM = b"\xef\xbb\xbf"
BALANCE_ZH = "基地,项目编号,基地名称,类型,状态,批复补助"
BALANCE_KEYS = "base_id,grant_id,base_name,programme,status,subsidy_approved"


def test_a_csv_file_has_the_bom_excel_needs_and_labels_in_the_lang_and_stdout_never_a_bom(
    demo_sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    books = demo_sqlite_ledger
    zh = tmp_path / "余额表.csv"
    books.ok("--lang", "zh", "balance", "--format", "csv", "--output", str(zh))
    assert zh.read_bytes().startswith(BOM + BALANCE_ZH.encode())
    plain = tmp_path / "plain.csv"
    books.ok("--lang", "zh", "balance", "--format", "csv", "--no-bom", "--output", str(plain))
    assert plain.read_bytes() == zh.read_bytes()[len(BOM) :]
    en = tmp_path / "en.csv"
    books.ok("balance", "--format", "csv", "--output", str(en))
    assert en.read_bytes().startswith(BOM + b"base,grant,name,programme,status,subsidy approved")
    codes = tmp_path / "codes.csv"
    books.ok("--lang", "zh", "balance", "--format", "csv", "--codes", "--output", str(codes))
    assert codes.read_bytes().startswith(BOM + BALANCE_KEYS.encode())
    out = books.ok("--lang", "zh", "balance", "--format", "csv").stdout
    assert out.startswith(BALANCE_ZH)  # standard output: never a BOM
    assert out == zh.read_bytes()[len(BOM) :].decode()
    # json always carries the codes
    assert set(json.loads(books.ok("--lang", "zh", "balance", "--format", "json").stdout)[0]) >= set(
        BALANCE_KEYS.split(",")
    )
    found = books.ok("--lang", "zh", "report", "findings", "--as-of", "2026-06-30", "--format", "csv").stdout
    assert found.startswith("基地,项目编号,规则,条款,日期,说明\n")
    coded = books.ok("report", "findings", "--as-of", "2026-06-30", "--format", "csv", "--codes").stdout
    assert coded.startswith("base_id,grant_id,rule,clause,date,message\n")


def test_workbooks_are_headed_in_the_lang_or_by_codes(demo_sqlite_ledger: Ledger, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    books = demo_sqlite_ledger

    def first_row(*args: str, row: int = 1) -> list[str]:
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.xlsx"
        books.ok(*args, "--output", str(path))
        sheet = load_workbook(path, read_only=True).worksheets[0]
        return [str(c) for c in next(sheet.iter_rows(min_row=row, values_only=True))]

    # a report workbook is headed on row 4, below its title and 编制单位 lines; an export on row 1
    report = ("--lang", "zh", "balance", "--format", "xlsx")
    assert first_row(*report, row=4)[:6] == BALANCE_ZH.split(",")
    assert first_row(*report, "--codes", row=4)[:6] == BALANCE_KEYS.split(",")
    # the export's optional columns last: on approve rows the unit's district (区县), the base's tier
    # (档次) and kind (基地类别), the application's date (申报日期); on spend rows the project
    optional = ["district", "tier", "track", "applied", "project"]
    zh = ["区县", "档次", "基地类别", "申报日期", "专业（项目）"]
    assert first_row("--lang", "zh", "export", "--format", "xlsx") == [*ZH_HEADER, *zh]
    assert first_row("--lang", "zh", "export", "--format", "xlsx", "--codes") == [*HEADER, *optional]
    assert first_row("export", "--format", "xlsx") == [*HEADER, *optional]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_books_exported_in_chinese_import_back_to_the_fen(
    demo_sqlite_ledger: Ledger, tmp_path: Path, fmt: str
) -> None:
    from click.testing import CliRunner

    from tests.test_export_runs import _printed_imports

    books = demo_sqlite_ledger
    runs = tmp_path / "runs"
    printed = books.ok("--lang", "zh", "export", "--format", fmt, "--runs", str(runs)).stdout
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())
    for role, path in _printed_imports(printed):  # the files as written, each by its role
        if fmt == "csv":
            assert Path(path).read_bytes().startswith(BOM + ",".join(ZH_HEADER).encode())
        other.ok("import", path, role=role)
    assert other.balances() == books.balances()
    assert other.ok("export", "--codes").stdout == books.ok("export", "--codes").stdout


def test_a_csv_through_dev_stdout_or_a_pipe_has_no_bom_and_a_link_to_a_file_has_one(
    demo_sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    import subprocess
    import sys

    script = Path(sys.executable).with_name("grant-ledger")
    done = subprocess.run(
        [str(script), "--db", demo_sqlite_ledger.url, "--lang", "zh", "balance", "--format", "csv",
         "--output", "/dev/stdout"],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.startswith(BALANCE_ZH.encode())
    target = tmp_path / "target.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    demo_sqlite_ledger.ok("--lang", "zh", "export", "--format", "csv", "--output", str(link))
    assert target.read_bytes().startswith(BOM + ",".join(ZH_HEADER).encode())


def test_a_quote_opened_on_the_last_line_and_never_closed_is_refused_naming_its_line(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The payee "ACME, Ltd and the memo after it had been read into one cell (exit 0, the memo
    lost); now exit 2 naming the line, nothing written."""
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    rows = [",".join(HEADER), _spends(",")[0],
            "2024-05-11,,B0001,G1,,spend,100,subsidy,equipment,实训设备,记-Q,\"ACME, Ltd,摘要"]  # fmt: skip
    path = tmp_path / "unclosed.csv"
    path.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "unclosed.csv: line 3 opens a quoted cell that is never closed" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and sqlite_ledger.event_count() == before


def test_a_long_number_in_a_workbook_cell_is_the_number_excel_shows(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """An 18-digit voucher (a bank account's) Excel keeps as a float of 15 significant digits: it
    is recorded as Excel shows it, 622202123456789000, not as the float's tail 622202123456788992."""
    from openpyxl import Workbook

    _funded(sqlite_ledger)
    book = Workbook()
    sheet = book.active
    sheet.append(list(HEADER))
    sheet.append(["2024-05-10", "", "B0001", "G1", "", "spend", 1000, "subsidy", "equipment", "patterns",
                  6.22202123456789e17, "重庆某某科技有限公司", ""])  # fmt: skip
    path = tmp_path / "long.xlsx"
    book.save(path)
    assert sqlite_ledger("import", str(path)).exit_code == 0
    assert [row["voucher"] for row in _exported(sqlite_ledger)] == ["622202123456789000"]


def test_a_file_of_its_header_alone_says_so_and_writes_nothing(sqlite_ledger: Ledger, tmp_path: Path) -> None:
    _funded(sqlite_ledger)
    before = sqlite_ledger.event_count()
    path = tmp_path / "empty-day.csv"
    path.write_text(",".join(HEADER) + "\r\n", encoding="utf-8")
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "empty-day.csv holds no rows after its header; nothing written"
    assert sqlite_ledger.event_count() == before


@pytest.mark.parametrize(
    "payee", ["Jīdiàn Gōngsī", "ООО Ромашка", "Αθήνα Training", "Łódź Sp. z o.o.", "Müller ¥200"]
)
def test_utf8_without_chinese_or_a_bom_is_read_as_utf8(
    sqlite_ledger: Ledger, tmp_path: Path, payee: str
) -> None:
    """Words of one script each, whose bytes GBK would read as common characters (ООО as 袨袨袨): a
    red-team pass found them refused as GBK read as UTF-8, which takes letters of two scripts in
    one run (实训 as ʵѵ)."""
    _funded(sqlite_ledger)
    path = tmp_path / "books.csv"
    row = f"2024-05-10,,B0001,G1,,spend,1000,subsidy,equipment,,S1,{payee},"
    path.write_bytes(f"{','.join(HEADER)}\n{row}\n".encode())
    result = sqlite_ledger("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert [r["payee"] for r in _exported(sqlite_ledger)] == [payee]
