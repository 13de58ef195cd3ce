"""What ``audit export`` writes and ``audit verify`` reads back: one place for both sides.

Imports nothing beyond the standard library, so the verifier stays free of the database code.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# 2: spending by leaf index, findings from the events, bundle.json without export time;
# 3: the sheets a person reads laid out for filing (a title, 编制单位 / 报表日期 / 单位：元, the
#    header in Chinese on row 4, a 合计 row), the event log with widths and a frozen header;
# 4: the findings sheet's rule names and texts filed in Chinese, whatever language exported it
#    (before, in English): a bundle of format 2 or 3 is still read with its English findings
FORMAT = 4
FORMATS = (2, 3, 4)  # what the verifier reads: an auditor may hold bundles of earlier formats
CHINESE_FINDINGS = 4
BALANCES_SHEET = "balances"
SPENDING_SHEET = "spending"
FINDINGS_SHEET = "findings"
EVENT_LOG_SHEET = "event log"
ACTIVITY_SHEET = "who did what"  # audit/verifier/who.py
REGISTRY_SHEET = "people registry"
SHEETS = (BALANCES_SHEET, SPENDING_SHEET, FINDINGS_SHEET, ACTIVITY_SHEET, REGISTRY_SHEET, EVENT_LOG_SHEET)
ACTIVITY_HEADERS = ["person", "role", "kind", "signed", "events", "first", "last"]
REGISTRY_HEADERS = ["leaf_index", "date", "change", "person", "role", "key", "by"]

BALANCE_HEADERS = [
    "base_id",
    "grant_id",
    "base_name",
    "programme",
    "approved",
    "subsidy_received",
    "subsidy_spent",
    "subsidy_available",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "matching_available",
    "subsidy_recovered",
    "subsidy_disposed",
    "matching_disposed",
]
SPENDING_HEADERS = [
    *("leaf_index", "date", "grant_id", "base_id", "kind", "source", "category", "content"),
    *("voucher", "amount", "actor"),
]
MEASURES = (
    "approved",
    "subsidy_received",
    "subsidy_spent",
    "matching_committed",
    "matching_received",
    "matching_spent",
    "subsidy_recovered",
    "subsidy_disposed",
    "matching_disposed",
)
FINDINGS_HEADERS = ["base_id", "grant_id", "rule", "clause", "occurred_on", "message"]

# ----------------------------------------------------------------------------- format 3: for filing
HEADER_ROW = 4  # title, the 编制单位 line, a blank line, then the header
YUAN_FORMAT = '"¥"#,##0.00'  # the ledger's report workbooks' format for yuan (commands/output.py)
ORG_LABEL, DATE_LABEL, UNIT_LABEL, TOTAL_LABEL = "编制单位：", "报表日期：", "单位：元", "合计"
NO_ROOT = "（账本未登记信任根）"  # 编制单位 of a ledger without a people registry


@dataclass(frozen=True)
class Filed:
    """A sheet a person reads, as format 3 lays it out: its title, Chinese header, and fixed
    column widths where its rows stream (else fitted to the rows)."""

    title: str
    headers: tuple[str, ...]
    widths: tuple[int, ...] = ()


FILED = {
    BALANCES_SHEET: Filed(
        "余额表",
        ("基地", "项目编号", "基地名称", "类型", "批复补助", "补助到位", "补助支出", "补助结余", "配套承诺",
         "配套到位", "配套支出", "配套结余", "补助追回", "补助结余处置", "配套结余处置"),
    ),
    SPENDING_SHEET: Filed(
        "支出明细",
        ("日志序号", "日期", "项目编号", "基地", "业务", "资金来源", "支出类别", "建设内容", "凭证号", "金额",
         "经办人"),
        (10, 12, 16, 10, 9, 10, 18, 24, 14, 17, 18),
    ),
    FINDINGS_SHEET: Filed("合规发现", ("基地", "项目编号", "规则", "条款", "日期", "说明")),
    ACTIVITY_SHEET: Filed(
        "经办人操作汇总", ("人员", "角色", "事件类型", "签名", "事件数", "首次日期", "末次日期")
    ),
    REGISTRY_SHEET: Filed(
        "人员登记簿", ("日志序号", "日期", "变更", "人员", "角色", "公钥指纹", "经办人")
    ),
}  # fmt: skip
# the event log stays shaped for machines: its own header on row 1, fixed widths
EVENT_LOG_WIDTHS = (10, 10, 34, 44, 38, 8, 66, 10)
SPENT_NET = "合计（支出减冲销）"  # the spending sheet's total: spent less reversed


def display_width(text: str) -> int:
    """Columns ``text`` takes in a fixed-width font (a CJK character takes two)."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def org_line(root: str | None) -> str:
    """编制单位: the ledger's trust root, the administrator who founded its people registry."""
    return ORG_LABEL + (root or NO_ROOT)


def heading(width: int, root: str | None, report_date: str) -> list[Any]:
    """The row below the title: 编制单位 left, 报表日期 in the middle, 单位：元 right."""
    line: list[Any] = [None] * width
    line[0] = org_line(root)
    line[width // 2] = DATE_LABEL + report_date
    line[-1] = UNIT_LABEL
    return line


def root_of(registry_rows: list[list[Any]]) -> str | None:
    """The person the people registry was founded with (its first change), if any."""
    for row in registry_rows:
        if row[2] == "People.Founded" and isinstance(row[3], str):
            return row[3]
    return None


def count_total(width: int, rows: int) -> list[Any]:
    total: list[Any] = [None] * width
    total[0], total[1] = TOTAL_LABEL, f"{rows} 条"
    return total


def sum_total(
    width: int, rows: list[list[Any]], columns: range | tuple[int, ...], zero: Any = Decimal(0)
) -> list[Any]:
    """合计 of ``columns`` (amounts, or counts with ``zero=0``): the figures, never a formula."""
    total: list[Any] = [None] * width
    total[0] = TOTAL_LABEL
    for i in columns:
        total[i] = sum((row[i] for row in rows if row[i] is not None), zero)
    return total


def spending_total(net: Decimal) -> list[Any]:
    total: list[Any] = [None] * len(SPENDING_HEADERS)
    total[0], total[9] = SPENT_NET, net
    return total


EVENT_LOG_HEADERS = [
    *("leaf_index", "event_id", "recorded_at", "topic", "originator_id", "version"),
    *("leaf_hash", "included"),
]
RECORD_COLUMNS = ("recorded_at", "topic", "originator_id", "originator_version")


def event_line(leaf_index: int, event_id: int, leaf_hash: str, record: bytes | None) -> bytes:
    """One line of events.jsonl: the record's canonical bytes last, exactly as its leaf hashes them,
    so a verifier can hash them without encoding the record again."""
    head = f'{{"leaf_index":{leaf_index},"event_id":{event_id},"leaf_hash":"{leaf_hash}",'.encode("ascii")
    if record is None:
        return head + b'"withheld":true}\n'
    return head + b'"record":' + record + b"}\n"


def event_log_row(leaf_index: int, event_id: int, leaf_hash: str, record: dict[str, Any] | None) -> list[Any]:
    """The workbook's event-log row of one leaf; a withheld event shows only its leaf hash, as in
    events.jsonl."""
    if record is None:
        return [leaf_index, event_id, None, None, None, None, leaf_hash, "withheld"]
    return shown_event_row(
        leaf_index,
        event_id,
        leaf_hash,
        record["recorded_at"],
        record["topic"],
        record["originator_id"],
        record["originator_version"],
    )


def shown_event_row(
    leaf_index: int,
    event_id: int,
    leaf_hash: str,
    recorded_at: str,
    topic: str,
    originator_id: str,
    version: int,
) -> list[Any]:
    """``event_log_row`` of an included event from its fields, its state left unparsed."""
    return [leaf_index, event_id, recorded_at, topic, originator_id, version, leaf_hash, "yes"]
