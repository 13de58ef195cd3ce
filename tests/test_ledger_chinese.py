"""The ledger's own words in Chinese (the default language) and English: every refusal of a rule
(its rule named, its clause and numbers kept), the field rules of an import's rows, the findings,
a grant's history and its balance. Under ``--lang zh`` no English sentence is left; under
``--lang en`` the English is as before. The auditor's verifier words the findings the same way
(tests/test_findings_agree.py)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import Ledger, approved_district_grant
from tests.importdata import HEADER

# three or more English words in a row, once option names, codes, ids, paths and URLs are gone
ENGLISH = re.compile(r"[A-Za-z]{2,}( [A-Za-z]{2,}){2,}")
NOT_WORDS = re.compile(
    r"--[a-z][a-z-]*|https?://\S+|\S*/\S*|\S+\.(?:csv|toml|db|key|pub|xlsx)\b|`[^`]*`|\b[a-z]+_[a-z_]+\b"
    r"|\bgrant-ledger( [a-z-]+)*|\b[A-Z]{1,3}[0-9][\w-]*|\bU\+[0-9A-F]{4}"
)


def english_sentences(text: str) -> list[str]:
    return [m.group() for line in text.splitlines() if (m := ENGLISH.search(NOT_WORDS.sub(" ", line)))]


@pytest.fixture
def approved(sqlite_ledger: Ledger) -> Ledger:
    """A district base's grant G1, approved 2024-04-01 (build period 2024-04-01..2026-03-31)."""
    approved_district_grant(sqlite_ledger)
    return sqlite_ledger


def both(ledger: Ledger, *args: str, role: str = "officer") -> tuple[str, str, int]:
    """``args`` run under zh then (refused, so nothing changes) under en: the two error texts."""
    ledger.lang = "zh"
    zh = ledger(*args, role=role)
    ledger.lang = "en"
    en = ledger(*args, role=role)
    assert zh.exit_code == en.exit_code, (zh.stderr, en.stderr)
    return zh.stderr, en.stderr, zh.exit_code


SPEND = ("spend", "G1", "--voucher", "S1", "--source", "subsidy")


@pytest.mark.parametrize(
    ("args", "role", "code", "zh_words", "en_words"),
    [
        pytest.param(
            (*SPEND, "--amount", "100", "--category", "equipment", "--date", "2024-05-10"),
            "officer", 3, ("专款专用", "100.00", "0.00", "财政补助"),
            ("spending 100.00 from the subsidy", "exceeds its available balance", "ring-fence"),
            id="ring-fence",
        ),
        pytest.param(
            (*SPEND, "--amount", "100", "--category", "差旅费", "--date", "2024-05-10"),
            "officer", 3, ("禁止支出类别", "差旅费", "003 第九条"), ("is banned", "banned category"),
            id="banned-travel",
        ),
        pytest.param(
            (*SPEND, "--amount", "100", "--category", "劳务费", "--date", "2024-05-10"),
            "officer", 3, ("禁止支出类别", "劳务费"), ("is banned", "banned category"),
            id="banned-labour",
        ),
        pytest.param(
            (*SPEND, "--amount", "100", "--category", "equipment", "--date", "2026-05-01"),
            "officer", 3, ("建设期", "2026-05-01", "2024-04-01", "2026-03-31"),
            ("is outside grant G1's build period", "build period"),
            id="build-period",
        ),
        pytest.param(
            ("grant", "notice", "G1", "--from", "2024-05-06", "--to", "2024-05-10", "--date", "2024-05-10"),
            "approver", 3, ("遴选顺序", "已批复", "公示"),
            ("is recorded only while the application is open", "selection order"),
            id="selection-order",
        ),
        pytest.param(
            ("grant", "extend", "G1", "--end", "2026-09-30", "--document", "D2", "--date", "2024-05-06"),
            "officer", 3, ("角色", "财务人员", "审批人", "grant extend"),
            ("the officer role may not record 'grant extend'; it is recorded by an approver",),
            id="role",
        ),
    ],
)
def test_a_refusal_is_in_chinese_with_its_rule_clause_and_numbers(
    approved: Ledger, args: tuple[str, ...], role: str, code: int, zh_words: tuple[str, ...],
    en_words: tuple[str, ...],
) -> None:  # fmt: skip
    zh, en, exit_code = both(approved, *args, role=role)
    assert exit_code == code, (zh, en)
    assert english_sentences(zh) == [], zh
    for word in zh_words:
        assert word in zh, (word, zh)
    assert re.search(r"\d{3} 第.+条", zh), zh  # the clause cited as the document has it
    for words in en_words:
        assert words in en, (words, en)
    assert english_sentences(en), en


def _rows(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "rows.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("row", "zh_words", "en_words"),
    [
        pytest.param(
            "2024-13-45,U1,B0001,G1,district_base,spend,100,subsidy,equipment,,S1,,",
            ("不是日期", "2024-13-45", "YYYY-MM-DD"), ("is not a date",), id="date",
        ),
        pytest.param(
            "2024-05-10,U1,B0001,G1,district_base,spend,abc,subsidy,equipment,,S1,,",
            ("不是金额", "'abc'", "20万"), ("is not an amount",), id="amount",
        ),
        pytest.param(
            "2024-05-10,U1,B0001,-G1,district_base,spend,100,subsidy,equipment,,S1,,",
            ("不以 '-' 开头", "64", "'-G1'"),
            ("characters without control characters, not starting with '-'",),
            id="id",
        ),
        pytest.param(
            "2024-05-10,U1,B0001,G1,district_base,spend,100,subsidy,equipment,,S1,,备注\x07x",
            ("控制字符", "U+0007"), ("holds a control character (U+0007)",), id="control-character",
        ),
    ],
)
def test_a_field_rule_of_an_import_row_is_in_chinese(
    approved: Ledger, tmp_path: Path, row: str, zh_words: tuple[str, ...], en_words: tuple[str, ...]
) -> None:
    path = _rows(tmp_path, row)
    zh, en, exit_code = both(approved, "import", str(path))
    assert exit_code == 2, (zh, en)
    said = [line for line in zh.splitlines() if line.startswith("rows.csv:2:")]
    assert said and english_sentences(said[0]) == [], zh
    for word in zh_words:
        assert word in said[0], (word, zh)
    for words in en_words:
        assert words in en, (words, en)


def test_findings_history_and_balance_read_in_chinese(approved: Ledger) -> None:
    """A disbursement without matching (1:1 asks for as much) and a year's outputs below the
    targets: findings in the reader's language, with their numbers; the history's details and the
    balance too."""
    approved.ok("disburse", "G1", "--amount", "100000", "--voucher", "D1", "--date", "2024-05-10")
    approved.ok("output", "report", "G1", "--year", "2026", "--trainees", "100", "--advanced", "10",
                "--evaluations", "50", "--advanced-evaluations", "5", "--date", "2026-01-10")  # fmt: skip
    approved.lang = "zh"
    findings = approved.ok("report", "findings", "--as-of", "2026-01-31").stdout
    assert english_sentences(findings) == [], findings
    below = "2026 年度报告高级工以上人数 10，低于目标 500"
    for words in ("1:1 配套", "配套经费到位 0.00", "100,000.00", "尚差 100,000.00", "产出目标", below):
        assert words in findings, (words, findings)
    history = approved.ok("history", "G1").stdout
    assert english_sentences(history) == [], history
    assert "专家组 5 人，予以推荐" in history and "培训 100 人" in history, history
    balance = approved.ok("balance", "B0001").stdout
    assert english_sentences(balance) == [], balance
    assert "100,000.00" in balance, balance

    approved.lang = "en"
    findings = approved.ok("report", "findings", "--as-of", "2026-01-31").stdout
    assert "received 0.00 matching against 100,000.00 subsidy; 1:1 asks for 100,000.00" in findings
    assert "grant G1 reported advanced 10 for 2026, below the target 500" in findings
    history = approved.ok("history", "G1").stdout
    assert "panel 5, recommended" in history and "100 trained" in history, history


def test_a_stored_message_reads_in_the_readers_language_and_typed_text_stays_text() -> None:
    """What the compliance judge and the history store (a message id and its values) is read in
    the language of whoever reads it, not of the process that wrote it; a reason a person typed
    that looks like one is shown as typed."""
    from ledger.i18n import Text, speaking
    from ledger.labels import lazy
    from ledger.policy import current_policy
    from ledger.rules import matching_at_least_ratio

    programme = current_policy().programme("district_base")
    with speaking("en"):
        breach = matching_at_least_ratio("G1", programme, Decimal("100000"), Decimal("0"))
        assert breach is not None
        stored = breach.text.dumps()
    with speaking("zh"):
        shown = str(Text.loads(stored))
    assert shown.startswith("补助项目 G1 配套经费到位 0.00") and "100,000.00" in shown, shown
    with speaking("en"):
        assert str(Text.loads(stored)).startswith("grant G1 received 0.00 matching against 100,000.00")
        assert str(Text.loads(Text("{x}", {"x": lazy("status", "approved")}).dumps())) == "approved"
    typed = '{"args": {}, "id": "approved"}'
    with speaking("zh"):
        assert Text.loads(typed) == typed


def test_every_value_label_names_its_code_in_either_language() -> None:
    """``label`` in the reader's language; ``code_of`` takes the code, or its name in Chinese or
    English (what the command line's options take), for every kind, the policy's names too."""
    from ledger.i18n import speaking
    from ledger.labels import NAMES, POLICY_KINDS, code_of, label
    from ledger.policy import current_policy

    policy = current_policy()
    kinds = {kind: list(codes) for kind, codes in NAMES.items()}
    kinds.update(
        category=list(policy.categories), content=list(policy.contents), programme=list(policy.programmes)
    )
    for kind, codes in kinds.items():
        for code in codes:
            with speaking("zh"):
                zh = label(kind, code)
            with speaking("en"):
                en = label(kind, code)
            assert zh != en or (kind in POLICY_KINDS and zh == en), (kind, code, zh)
            assert not re.search(r"[A-Za-z]{3}", zh) or kind == "figure", (kind, code, zh)
            for text in (code, zh, en, f" {zh} "):
                found = code_of(kind, text)
                # a name two codes share (an act's 'spent' and 'spend') names one of them
                assert found == code or label(kind, found or "") in (zh, en), (kind, text, found)
    assert code_of("source", "财政补助") == "subsidy" and code_of("source", "no such source") is None
    assert code_of("programme", "区级高技能人才培训基地") == "district_base"
