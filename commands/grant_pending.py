"""``grant pending``: what waits for an approver's act — the next step of each selection in
progress, and rectifications past their deadline."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import click

from commands.grant import grant_group
from commands.i18n import _
from commands.reading import emit, engine_for_reading, read_options

KEYS = ["base_id", "grant_id", "programme", "step", "since", "days", "detail"]
HEADERS = {
    "zh": ["基地", "项目编号", "类型", "待办", "起算日", "已等天数", "说明"],
    "en": ["base", "grant", "programme", "waits for", "since", "days", "detail"],
}
STEP_LABEL = {
    "zh": {
        "recommend": "推荐",
        "review": "专家评审",
        "rereview_or_reject": "复审或不予批准",
        "notice": "公示",
        "resolve_objections": "处理异议",
        "approve": "审批",
        "rectification": "整改逾期",
    },
    "en": {},
}


@grant_group.command("pending")
@click.argument("base_ids", nargs=-1)
@read_options(formats=("table", "json", "csv", "xlsx"))
def pending_command(
    base_ids: tuple[str, ...], as_of: datetime | None, known_at: str | None, fmt: str, output: Path | None
) -> None:
    """What waits for an approver's act, oldest first: a recommendation (municipal and national
    bases), the expert review, the public notice, objections to settle, the approval once the
    notice has run its course, and rectifications past their deadline. --as-of DATE: what waited
    on that day (default today, Asia/Shanghai).

    \b
    Examples:
      grant-ledger grant pending
      grant-ledger grant pending --format xlsx --output 待办.xlsx
    """
    from commands.context import settings
    from ledger.clock import business_today
    from ledger.policy import current_policy
    from projections.pending import pending

    if known_at is not None:
        raise click.UsageError(_("grant pending answers for a business date (--as-of), not --known-at"))
    lang = settings().lang
    today = as_of.date() if as_of else business_today()
    levels = {code: p.level for code, p in current_policy().programmes.items()}
    found = sorted(
        pending(engine_for_reading(acts=True), today, levels, base_ids),
        key=lambda p: (p.since or date.min, p.base_id, p.grant_id),
    )
    rows = [
        [
            p.base_id,
            p.grant_id,
            p.programme,
            STEP_LABEL[lang].get(p.step, p.step) if fmt == "table" else p.step,
            p.since,
            (today - p.since).days if p.since else None,
            p.detail,
        ]
        for p in found
    ]
    emit(
        title={"zh": "待审批事项", "en": "pending"},
        keys=KEYS,
        headers=HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        empty={"zh": "没有待办事项。", "en": "nothing waits for an approver"},
        report_date=today,
    )


def register(cli: click.Group) -> None:
    """The command joins the ``grant`` group when this module is imported."""
