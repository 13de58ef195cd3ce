"""A command typed again with the same content is a repeat (exit 0, nothing written); with
different content it is refused (exit 5, nothing written), as the command-line contract says. An
approval and an application had been taken for repeats whatever their date, build start, bodies,
projects or base name said: an officer was told "already recorded" of what the ledger did not hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import DISTRICT_BODIES, Ledger, approved_district_grant
from tests.test_core_rules import refused

APPROVAL = ("grant", "approve", "G1", "--amount", "200000", "--document", "渝中人社〔2024〕1号")
APPLICATION = (
    "grant", "apply", "G1", "--unit", "U1", "--base", "B0001", "--programme", "district_base",
    "--amount", "20万",
)  # fmt: skip


def test_an_approval_typed_again_is_a_repeat_only_with_its_content(ledger: Ledger) -> None:
    approved_district_grant(ledger)
    same = ledger.ok(*APPROVAL, *DISTRICT_BODIES, "--date", "2024-04-01", role="approver")
    assert "already" in same.stdout
    # the bodies in another order, and the build start the approval's date gives, are the same
    again = ("--body", "CZ-YZ", "--body", "RS-YZ", "--start", "2024-04-01", "--date", "2024-04-01")
    assert "already" in ledger.ok(*APPROVAL, *again, role="approver").stdout
    for other, said in (
        (("--date", "2024-04-02"), "with date 2024-04-01; this approval names 2024-04-02"),
        (("--start", "2024-05-01", "--date", "2024-04-01"),
         "with build start 2024-04-01; this approval names 2024-05-01"),
        (("--date", "2024-04-01"), "with bodies CZ-YZ、RS-YZ; this approval names RS-YZ"),
    ):  # fmt: skip
        bodies = DISTRICT_BODIES[:2] if "bodies" in said else DISTRICT_BODIES
        message = refused(ledger, *APPROVAL, *bodies, *other, role="approver", code=5)
        assert (
            "grant G1 is already approved under document 渝中人社〔2024〕1号" in message and said in message
        )


@pytest.mark.parametrize(
    ("other", "why"),
    [
        (("--project", "电工", "--date", "2024-03-02"), "its date"),
        (("--project", "焊工", "--date", "2024-03-01"), "its projects"),
        (("--project", "电工", "--project", "焊工", "--date", "2024-03-01"), "a project more"),
        (("--project", "电工", "--base-name", "别的名字", "--date", "2024-03-01"), "its base's name"),
    ],
)
def test_an_application_typed_again_with_other_content_is_refused(
    sqlite_ledger: Ledger, other: tuple[str, ...], why: str
) -> None:
    approved_district_grant(sqlite_ledger)
    assert "already" in sqlite_ledger.ok(*APPLICATION, "--project", "电工", "--date", "2024-03-01").stdout
    said = refused(sqlite_ledger, *APPLICATION, *other, code=5)
    assert "grant G1 is already recorded for unit U1, base B0001" in said, why


def test_money_before_approval_cites_the_programmes_own_approval_clause(sqlite_ledger: Ledger) -> None:
    """A training institute is approved by 000 第十一条, a district base by 003 第七条(二): money
    before an institute's approval had cited the district's clause (区人力社保局、区财政局审批)."""
    from tests.test_programme_rules import apply_args, register

    register(sqlite_ledger, "U1")
    institute = apply_args("G1", "U1", "B-G1", "training_institute", "焊工", "电工")
    sqlite_ledger.ok(*institute, "--amount", "150万", "--date", "2024-03-01")
    said = refused(
        sqlite_ledger, "disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-03-10"
    )
    assert "approval first" in said and "000 第十一条" in said and "003" not in said
    approved_district_grant(sqlite_ledger, "G2", "B0002", "U2")
    early = ("disburse", "G2", "--amount", "1万", "--voucher", "拨-2", "--date", "2024-03-20")
    said = refused(sqlite_ledger, *early)
    assert "approval first" in said and "003 第七条(二)" in said


def _exported_back(ledger: Ledger, tmp_path: Path) -> Path:
    """The ledger's own csv export, imported back into it (a repeat of every row it holds)."""
    books = tmp_path / "books.csv"
    ledger.ok("export", "--format", "csv", "--output", str(books))
    ledger.import_ok(books)
    return books


def test_a_spend_typed_again_with_another_attachment_is_refused(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A spend's attachments are its content too: typed again with an invoice added, it had been
    "already recorded" (exit 0) and the file's sha256 never kept. The same invoices in another
    order are the same; an export, whose rows name no attachments, imports back as its repeat."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-10")
    spend = ("spend", "G1", "--amount", "1200", "--category", "equipment", "--source", "subsidy",
             "--voucher", "记-1", "--date", "2024-05-02", "--memo", "机床")  # fmt: skip
    sqlite_ledger.ok(*spend)
    assert "already" in sqlite_ledger.ok(*spend).stdout
    invoice, receipt = tmp_path / "发票.pdf", tmp_path / "验收单.pdf"
    invoice.write_bytes(b"%PDF-1.4 invoice")
    receipt.write_bytes(b"%PDF-1.4 receipt")
    said = refused(sqlite_ledger, *spend, "--attachment", str(invoice), code=5)
    assert "voucher 记-1 is already recorded as a spend of grant G1 with different content" in said
    both = (*spend[:9], "记-2", *spend[10:], "--attachment", str(invoice), "--attachment", str(receipt))
    sqlite_ledger.ok(*both)
    swapped = (*spend[:9], "记-2", *spend[10:], "--attachment", str(receipt), "--attachment", str(invoice))
    assert "already" in sqlite_ledger.ok(*swapped).stdout
    said = refused(sqlite_ledger, *spend[:9], "记-2", *spend[10:], "--attachment", str(invoice), code=5)
    assert "voucher 记-2 is already recorded" in said
    before = sqlite_ledger.event_count()
    _exported_back(sqlite_ledger, tmp_path)
    assert sqlite_ledger.event_count() == before


def test_a_spend_naming_its_project_is_exported_and_imports_back_as_its_repeat(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The project a spend serves (spend --project) is in its fingerprint; the import format had no
    column for it, so a ledger's own export of such a spend was refused when imported back (exit 5:
    other content). The optional project column (专业（项目）) carries it, both ways."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-10")
    sqlite_ledger.ok("spend", "G1", "--amount", "1200", "--category", "equipment", "--source", "subsidy",
                     "--voucher", "记-1", "--project", "电工", "--date", "2024-05-02")  # fmt: skip
    before = sqlite_ledger.event_count()
    for lang in ("en", "zh"):
        books = tmp_path / f"books-{lang}.csv"
        sqlite_ledger.ok("--lang", lang, "export", "--format", "csv", "--output", str(books))
        sqlite_ledger.import_ok(books)
        assert sqlite_ledger.event_count() == before
    other = Ledger(f"sqlite:///{tmp_path / 'other.db'}", CliRunner())
    other.import_ok(tmp_path / "books-zh.csv")
    again = other.ok("spend", "G1", "--amount", "1200", "--category", "equipment", "--source", "subsidy",
                     "--voucher", "记-1", "--project", "电工", "--date", "2024-05-02")  # fmt: skip
    assert "already" in again.stdout


def test_a_spend_typed_again_with_another_memo_is_refused_by_the_command_line_and_by_an_import(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """The memo is a spend's content too (DESIGN: a repeat is the same voucher with the same
    content): typed again with another, or none where one was kept, it had been "already
    recorded" (exit 0). The same memo is the repeat; a ledger's own export, whose rows carry the
    memo, imports back as its repeat, and an edited memo in that file is refused at its line,
    nothing written."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-10")
    spend = ("spend", "G1", "--amount", "1200", "--category", "equipment", "--source", "subsidy",
             "--voucher", "记-1", "--date", "2024-05-02")  # fmt: skip
    sqlite_ledger.ok(*spend, "--memo", "机床")
    sqlite_ledger.ok(*spend[:9], "记-2", *spend[10:])  # none
    assert "already" in sqlite_ledger.ok(*spend, "--memo", "机床").stdout
    assert "already" in sqlite_ledger.ok(*spend[:9], "记-2", *spend[10:]).stdout
    for other in (("--memo", "车床"), ()):
        said = refused(sqlite_ledger, *spend, *other, code=5)
        assert "voucher 记-1 is already recorded as a spend of grant G1 with different content" in said
    said = refused(sqlite_ledger, *spend[:9], "记-2", *spend[10:], "--memo", "机床", code=5)
    assert "voucher 记-2 is already recorded" in said
    before = sqlite_ledger.event_count()
    books = _exported_back(sqlite_ledger, tmp_path)
    assert sqlite_ledger.event_count() == before
    edited = tmp_path / "edited.csv"
    edited.write_text(books.read_text("utf-8").replace(",机床", ",车床"), "utf-8")
    assert edited.read_text("utf-8") != books.read_text("utf-8")
    results = sqlite_ledger.import_runs(edited)
    assert results[-1].exit_code == 5, (results[-1].stdout, results[-1].stderr)
    assert "记-1" in results[-1].stderr and "different content" in results[-1].stderr
    assert sqlite_ledger.event_count() == before


HEADER = "date,unit_id,base_id,grant_id,programme,kind,amount,source,category,content,voucher,payee,memo"


def _snapshot_without_memos(ledger: Ledger, tmp_path: Path) -> None:
    """G1 with 60 spends imported, each with its memo, then its latest snapshot stored again as a
    version before memos were kept wrote it (its expenditures without them), below the application."""
    import dataclasses

    from ledger.application import GrantLedger

    approved_district_grant(ledger)
    rows = [HEADER, "2024-04-10,,B0001,G1,,disburse,100000,subsidy,,,T1,,"]
    rows += [
        f"2024-05-{1 + n // 4:02d},,B0001,G1,,spend,100,subsidy,equipment,,S{n},,用途{n}" for n in range(60)
    ]
    history = tmp_path / "history.csv"
    history.write_text("\n".join(rows) + "\n", encoding="utf-8")
    ledger.ok("import", str(history))
    ledger.ok("disburse", "G1", "--amount", "1000", "--voucher", "T2", "--date", "2024-06-01")
    app = GrantLedger(ledger.url)
    try:
        grant = app.get_grant("G1")
        taken = type(grant).Snapshot.take(grant)  # type: ignore[attr-defined]
        assert taken.state["expenditures"]["S3"]["memo"]
        spent = {
            v: {k: x for k, x in e.items() if k != "memo"} for v, e in taken.state["expenditures"].items()
        }
        app.snapshots.put([dataclasses.replace(taken, state={**taken.state, "expenditures": spent})])  # type: ignore[union-attr]
    finally:
        app.close()


def test_a_snapshot_an_earlier_version_took_without_memos_still_loads_and_memos_are_still_held(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A grant's latest snapshot as a version before memos were kept wrote it (its expenditures
    without them) is of an earlier form, not a forgery: the write replays the grant, so the memo of
    a spend typed again is still compared."""
    _snapshot_without_memos(sqlite_ledger, tmp_path)
    spend = ("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
             "--voucher", "S3", "--date", "2024-05-01")  # fmt: skip
    said = refused(sqlite_ledger, *spend, "--memo", "别的用途", code=5)
    assert "different content" in said and "forged" not in said and "snapshot" not in said
    assert "already" in sqlite_ledger.ok(*spend, "--memo", "用途3").stdout
    sqlite_ledger.ok("projections", "verify")


def test_a_reversed_spend_in_a_file_with_another_memo_is_no_repeat(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A file holding a spend and its reversal, both already in the ledger, is a repeat only if
    the spend is the one recorded, memo included: with its memo edited it had been taken as the
    repeat of the reversed spend (a red-team pass found it)."""
    approved_district_grant(sqlite_ledger)
    sqlite_ledger.ok("disburse", "G1", "--amount", "10万", "--voucher", "拨-1", "--date", "2024-04-10")
    sqlite_ledger.ok("spend", "G1", "--amount", "100", "--category", "equipment", "--source", "subsidy",
                     "--voucher", "S1", "--date", "2024-05-02", "--memo", "x")  # fmt: skip
    sqlite_ledger.ok("reverse", "G1", "--voucher", "S1", "--reason", "wrong", "--date", "2024-05-03")
    before = sqlite_ledger.event_count()
    for memo, code in (("x", 0), ("OTHER", 5)):
        rows = [
            HEADER,
            f"2024-05-02,,B0001,G1,,spend,100,subsidy,equipment,,S1,,{memo}",
            "2024-05-03,,B0001,G1,,reverse,100,subsidy,equipment,,wrong,,S1",
        ]
        path = tmp_path / f"again-{memo}.csv"
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        result = sqlite_ledger("import", str(path))
        assert result.exit_code == code, (memo, result.stdout, result.stderr)
        assert sqlite_ledger.event_count() == before
    assert "S1" in result.stderr and ":2:" in result.stderr, result.stderr


def test_an_import_replaces_a_snapshot_of_an_earlier_form_as_a_command_does(
    sqlite_ledger: Ledger, tmp_path: Path
) -> None:
    """A grant loaded from a snapshot an earlier version took is replayed; a command's write then
    stores one of this form, and so now does an import's (a red-team pass found that a grant written
    only by imports replayed its history at every load until its next snapshot point)."""
    from sqlalchemy import create_engine, text

    from ledger.application import GrantLedger

    _snapshot_without_memos(sqlite_ledger, tmp_path)
    one = tmp_path / "one.csv"
    one.write_text(
        f"{HEADER}\n2024-06-02,,B0001,G1,,spend,100,subsidy,equipment,,S99,,新\n", encoding="utf-8"
    )
    sqlite_ledger.ok("import", str(one))
    engine = create_engine(sqlite_ledger.url)
    try:
        with engine.connect() as conn:
            latest = conn.execute(text("SELECT MAX(originator_version) FROM ledger_snapshots")).scalar()
    finally:
        engine.dispose()
    app = GrantLedger(sqlite_ledger.url)
    try:
        grant = app.get_grant("G1")
        assert latest == grant.version  # a snapshot of this form, at the import's last event
        stored = app.snapshots.get(grant.id, desc=True, limit=1)  # type: ignore[union-attr]
        state = next(iter(stored)).state
        assert all("memo" in e for e in state["expenditures"].values())
    finally:
        app.close()
    retyped = "spend G1 --amount 100 --category equipment --source subsidy --voucher S3 --date 2024-05-01"
    said = refused(sqlite_ledger, *retyped.split(), "--memo", "别的", code=5)
    assert "different content" in said
    sqlite_ledger.ok("projections", "verify")
