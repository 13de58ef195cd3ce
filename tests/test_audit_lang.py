"""The audit round in the reader's language (issue 18 item 2): `audit checkpoint`, `export`,
`verify` (a good bundle, an unanchored one and a tampered one) and `prove` (found, malformed, not
found) say everything in Chinese under zh — the leading PASS / FAIL stays, for the scripts that
look for it — and in English under --lang en. The bundle itself does not change with the language:
its report.xlsx is evidence, verified cell by cell whichever language exported it."""

from __future__ import annotations

import filecmp
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from commands.cli import cli
from tests.conftest import Ledger, approved_district_grant

# three English words in a row: a sentence left untranslated
ENGLISH = re.compile(r"[A-Za-z]{2,}( [A-Za-z]{2,}){2,}")
# what may stay as it is in any language: option names, commands in backquotes, paths and file
# names, hex and base64, upper-case tokens (PASS, FAIL, MANIFEST, FINGERPRINT) and event kinds
KEPT = re.compile(
    r"--[a-z][a-z-]*|`[^`]*`|\S*[/.]\S*|\b[0-9a-f]{16,}\b|[A-Za-z0-9+/]{20,}=*|\b[A-Z][A-Z_:]+\b|\b\w+\.\w+\b"
)


def english_sentences(text: str) -> list[str]:
    return [m.group(0) for line in text.splitlines() if (m := ENGLISH.search(KEPT.sub(" ", line)))]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger with one approved grant, its money and a reversal; nothing signed yet."""
    home = tmp_path_factory.mktemp("lang")
    ledger = Ledger(f"sqlite:///{home / 'ledger.db'}", CliRunner())
    approved_district_grant(ledger)
    ledger.ok("disburse", "G1", "--amount", "12万", "--voucher", "T1", "--date", "2024-04-10")
    for voucher, amount in (("S1", "3.5万"), ("S2", "12000")):
        ledger.ok(
            "spend", "G1", "--amount", amount, "--category", "equipment", "--source", "subsidy",
            "--voucher", voucher, "--date", "2024-05-10",
        )  # fmt: skip
    ledger.ok("reverse", "G1", "--voucher", "S2", "--reason", "重复入账", "--date", "2024-06-10")
    (home / "approver.key").write_bytes(ledger.key("approver").read_bytes())
    (home / "approver.key").chmod(0o600)
    assert ledger.root is not None
    (home / "root.txt").write_text(ledger.root)
    return home


@pytest.fixture
def ledger_home(home: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(home, copy)
    return copy


def run(home: Path, lang: str, *args: str, key: bool = False) -> Result:
    signer = ["--key", str(home / "approver.key")] if key else []
    result = CliRunner().invoke(
        cli,
        ["--db", f"sqlite:///{home / 'ledger.db'}", *signer, "--lang", lang, *args],
        catch_exceptions=False,
    )
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result


def _tamper(bundle: Path, tampered: Path) -> None:
    """A forger raises the first spend by 10,000 in events.jsonl."""
    shutil.copytree(bundle, tampered)
    events = tampered / "events.jsonl"
    text = events.read_text(encoding="utf-8")
    changed = text.replace('"_data_":"35000.00"', '"_data_":"45000.00"', 1)
    assert changed != text
    events.write_text(changed, encoding="utf-8")


def _round(home: Path, lang: str) -> dict[str, Result]:
    """Every audit command, as an approver and an auditor run them, in ``lang``."""
    root = (home / "root.txt").read_text()
    out: dict[str, Result] = {}
    out["checkpoint"] = run(home, lang, "audit", "checkpoint", key=True)
    (home / "cp.txt").write_text(out["checkpoint"].stdout)
    out["checkpoint again"] = run(home, lang, "audit", "checkpoint", key=True)
    out["export"] = run(home, lang, "audit", "export", str(home / "bundle"))
    out["export again"] = run(home, lang, "audit", "export", str(home / "bundle"))
    bundle = str(home / "bundle")
    out["verify"] = run(
        home, lang, "audit", "verify", bundle, "--trusted", str(home / "cp.txt"), "--root", root
    )
    out["verify unanchored"] = run(home, lang, "audit", "verify", bundle, "--unanchored")
    out["verify held to nothing"] = run(home, lang, "audit", "verify", bundle)
    _tamper(home / "bundle", home / "tampered")
    out["verify tampered"] = run(home, lang, "audit", "verify", str(home / "tampered"), "--root", root)
    out["prove"] = run(home, lang, "audit", "prove", "3")
    out["prove malformed"] = run(home, lang, "audit", "prove", "abc")
    out["prove unknown"] = run(home, lang, "audit", "prove", "99999")
    out["prove too large"] = run(home, lang, "audit", "prove", str(1 << 64))
    return out


EXIT = {
    "checkpoint": 0,
    "checkpoint again": 0,
    "export": 0,
    "export again": 2,
    "verify": 0,
    "verify unanchored": 0,
    "verify held to nothing": 6,
    "verify tampered": 6,
    "prove": 0,
    "prove malformed": 2,
    "prove unknown": 4,
    "prove too large": 2,
}


def test_the_audit_round_speaks_chinese_under_zh(ledger_home: Path) -> None:
    out = _round(ledger_home, "zh")
    for name, result in out.items():
        assert result.exit_code == EXIT[name], (name, result.stdout, result.stderr)
        said = result.stdout + result.stderr
        assert english_sentences(said) == [], (name, said)
        if name != "checkpoint":  # a new checkpoint prints only the signed note
            assert re.search(r"[\u4e00-\u9fff]", said), (name, said)
    verify, unanchored, tampered = out["verify"], out["verify unanchored"], out["verify tampered"]
    # the tokens scripts grep stay; what follows is Chinese
    assert verify.stdout.startswith("PASS：共 ") and "与受信任检查点一致" in verify.stdout
    assert "个项目的余额与工作簿一致" in verify.stdout and "不相容职务分离得到遵守" in verify.stdout
    assert unanchored.stdout.startswith("PASS（仅内部一致）：") and unanchored.stdout.count("未锚定：") == 2
    nothing = out["verify held to nothing"]  # a bundle held to no key the auditor trusts does not pass
    assert nothing.stdout == "" and "PASS" not in nothing.stderr and "--unanchored" in nothing.stderr
    assert (
        tampered.stdout.startswith("FAIL：")
        and "重算的叶节点哈希与导出的不一致（已被修改）" in tampered.stdout
    )
    assert "MANIFEST：events.jsonl 的 sha256 与清单不符" in tampered.stdout
    assert "未通过核验" in tampered.stderr
    assert "已导出截至第 1 号检查点的" in out["export"].stdout
    assert "重复输出最新检查点" in out["checkpoint again"].stderr
    assert out["prove"].stdout.startswith("grant-ledger 包含证明（RFC 9162 §2.1.3）\n事件编号：3\n")
    assert "既不是数字" in out["prove malformed"].stderr
    assert "审计日志中没有事件 99999" in out["prove unknown"].stderr


def test_the_audit_round_speaks_english_under_en(ledger_home: Path) -> None:
    out = _round(ledger_home, "en")
    for name, result in out.items():
        assert result.exit_code == EXIT[name], (name, result.stdout, result.stderr)
    assert out["verify"].stdout.startswith("PASS: ")
    assert "consistent with the trusted checkpoint" in out["verify"].stdout
    assert "separation of duties held" in out["verify"].stdout
    assert out["verify unanchored"].stdout.startswith("PASS (internal consistency only): ")
    nothing = out["verify held to nothing"]
    assert nothing.stdout == "" and "nothing ties it to a key you trust" in nothing.stderr
    tampered = out["verify tampered"]
    assert tampered.stdout.startswith("FAIL: ")
    assert "recomputed leaf hash differs from the exported one (edited)" in tampered.stdout
    assert "failed verification" in tampered.stderr
    assert out["export"].stdout.startswith("exported ")
    assert "latest checkpoint repeated" in out["checkpoint again"].stderr
    assert out["prove"].stdout.startswith("grant-ledger inclusion proof")
    assert "is neither a number nor ORIGINATOR_UUID:VERSION" in out["prove malformed"].stderr
    assert "is not in the audit log" in out["prove unknown"].stderr
    assert "larger than any event id" in out["prove too large"].stderr


def test_a_bundle_is_the_same_evidence_in_either_language(ledger_home: Path, tmp_path: Path) -> None:
    """The language changes what people read on the terminal, never the bundle: exported under
    zh and under en, every file but the workbook is byte for byte the same, the workbook shows
    the same sheets and cells, and each bundle verifies under the other language."""
    from openpyxl import load_workbook

    run(ledger_home, "zh", "audit", "checkpoint", key=True)
    zh, en = tmp_path / "zh", tmp_path / "en"
    assert run(ledger_home, "zh", "audit", "export", str(zh)).exit_code == 0
    assert run(ledger_home, "en", "audit", "export", str(en)).exit_code == 0
    files = sorted(p.relative_to(zh).as_posix() for p in zh.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(en).as_posix() for p in en.rglob("*") if p.is_file())
    for name in files:
        if name not in ("report.xlsx", "MANIFEST"):
            assert filecmp.cmp(zh / name, en / name, shallow=False), name
    books = [load_workbook(path / "report.xlsx") for path in (zh, en)]
    assert books[0].sheetnames == books[1].sheetnames
    for sheet in books[0].sheetnames:
        rows = [list(book[sheet].iter_rows(values_only=True)) for book in books]
        assert rows[0] == rows[1], sheet
    root = (ledger_home / "root.txt").read_text()
    assert run(ledger_home, "en", "audit", "verify", str(zh), "--root", root).stdout.startswith("PASS")
    assert run(ledger_home, "zh", "audit", "verify", str(en), "--root", root).stdout.startswith("PASS")


@pytest.mark.parametrize(("lang", "said"), [("en", "no one"), ("zh", "无人")])
def test_the_second_process_speaks_the_callers_language(lang: str, said: str) -> None:
    """A large bundle's event log is checked (and its workbook written) in a spawned process,
    which starts afresh: it is given the caller's language, so its messages match the rest."""
    from audit.verifier.background import Background
    from audit.verifier.i18n import LANG, _

    token = LANG.set(lang)
    try:
        with Background(_, "no one") as job:
            assert job.result() == said
    finally:
        LANG.reset(token)
