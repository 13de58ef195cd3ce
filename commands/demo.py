"""``demo``: a realistic scenario from the seeds, on a fresh SQLite file.

A 渝中区 district base with its 20万 subsidy in two tranches and 1:1 matching from its host
(003 第九条), and a 职业训练院 with 150万 for 3 projects (000 第十三条); spending across
permitted categories; a travel expense and an overspend refused with their clauses; one
reversal. The district base goes through its selection (a panel of 4 refused — 003 表5 — then a
review of 7 and a 5-working-day notice), registers its budget plan (003 表4-2) before spending,
reports its 2024 outputs and has a mid-term evaluation with a rectification; then the balance
report and the findings report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import click

from commands.context import Settings, settings
from ledger.errors import LedgerError
from ledger.money import parse_amount

DEMO_FILE = "grant-ledger-demo.db"


def _say(text: str) -> None:
    click.echo(text)


def _step(label: str, action: Callable[[], Any]) -> None:
    outcome = action()
    _say(f"  ✓ {label}: {outcome.message}")


def _refused(label: str, action: Callable[[], Any]) -> None:
    try:
        action()
    except LedgerError as e:
        _say(f"  ✗ {label} — refused (exit {e.exit_code}): {e.message}")
    else:  # pragma: no cover - the demo's refusals are rules the tests pin down
        raise click.ClickException(f"the demo expected '{label}' to be refused")


def run_demo(s: Settings) -> None:
    ledger = s.ledger()
    y = lambda text: parse_amount(text)  # noqa: E731
    officer: dict[str, Any] = {"actor": "财务-李敏", "role": "officer"}
    approver: dict[str, Any] = {"actor": "区人力社保局-王强", "role": "approver"}
    city: dict[str, Any] = {"actor": "市人力社保局-陈静", "role": "approver"}

    _say("1. 承建单位 host units")
    _step(
        "渝中区职业教育中心",
        lambda: ledger.register_unit(
            unit_id="U-YZ-001",
            name="重庆市渝中区职业教育中心",
            kind="technical_school",
            on=date(2024, 2, 20),
            **officer,
        ),
    )
    _step(
        "重庆市工业技师学院",
        lambda: ledger.register_unit(
            unit_id="U-CQ-002",
            name="重庆市工业技师学院",
            kind="technical_school",
            on=date(2024, 2, 20),
            **officer,
        ),
    )

    _say("2. 区级基地 district base B0001 (003): application and approval")
    _step(
        "apply",
        lambda: ledger.apply_grant(
            grant_id="G-YZ-2024-01",
            unit_id="U-YZ-001",
            base_id="B0001",
            base_name="渝中区数字技能高技能人才培训基地",
            programme="district_base",
            projects=["电子商务师", "网络与信息安全管理员"],
            requested=y("20万"),
            on=date(2024, 3, 1),
            **officer,
        ),
    )
    _refused(
        "a second district base for the same unit (003 第八条)",
        lambda: ledger.apply_grant(
            grant_id="G-YZ-2024-09",
            unit_id="U-YZ-001",
            base_id="B0009",
            base_name="渝中区第二个区级基地",
            programme="district_base",
            projects=["茶艺师"],
            requested=y("20万"),
            on=date(2024, 3, 2),
            **officer,
        ),
    )
    _refused(
        "an expert panel of 4 (003 表5: at least 5, an odd number)",
        lambda: _review(ledger, "G-YZ-2024-01", 4, date(2024, 3, 20), approver),
    )
    _step(
        "expert review, panel of 7", lambda: _review(ledger, "G-YZ-2024-01", 7, date(2024, 3, 20), approver)
    )
    _step(
        "public notice 2024-03-25..29 (5 working days, 002 五(二))",
        lambda: _notice(ledger, "G-YZ-2024-01", date(2024, 3, 25), date(2024, 3, 29), approver),
    )
    _step(
        "approve",
        lambda: ledger.approve_grant(
            grant_id="G-YZ-2024-01",
            amount=y("200,000.00"),
            document="渝中人社〔2024〕18号",
            bodies=["区人力社保局", "区财政局"],
            build_start=None,
            build_end=None,
            on=date(2024, 4, 1),
            **approver,
        ),
    )

    budget = {
        "training_system/local_finance": y("11万"),
        "cooperation/local_finance": y("5万"),
        "patterns/local_finance": y("4万"),
        "training_system/industry": y("12万"),
        "cooperation/industry": y("8万"),
    }
    _step(
        "budget plan (003 表4-2: 地方财政 → subsidy, 行业企业 → matching)",
        lambda: ledger.record(
            grant_id="G-YZ-2024-01",
            action="grant budget",
            on=date(2024, 4, 2),
            role="officer",
            decide=lambda g, p: g.register_budget(lines=budget, on=date(2024, 4, 2), policy=p, **officer),
            done="registered 5 budget lines",
            repeat="the budget plan is already registered",
        ),
    )

    _say("3. 职业训练院 B0002 (000): 150万 for 3 projects")
    _step(
        "apply",
        lambda: ledger.apply_grant(
            grant_id="G-CQ-2024-07",
            unit_id="U-CQ-002",
            base_id="B0002",
            base_name="重庆市工业技师学院职业训练院",
            programme="training_institute",
            projects=["工业机器人系统运维员", "数控车工", "焊工"],
            requested=y("150万元"),
            on=date(2024, 4, 10),
            **officer,
        ),
    )
    _step("expert review, panel of 5", lambda: _review(ledger, "G-CQ-2024-07", 5, date(2024, 4, 25), city))
    _step(
        "public notice 2024-05-06..10",
        lambda: _notice(ledger, "G-CQ-2024-07", date(2024, 5, 6), date(2024, 5, 10), city),
    )
    _step(
        "approve",
        lambda: ledger.approve_grant(
            grant_id="G-CQ-2024-07",
            amount=y("¥1500000"),
            document="渝人社〔2024〕96号",
            bodies=["市人力社保局"],
            build_start=None,
            build_end=date(2026, 12, 31),
            on=date(2024, 5, 20),
            **city,
        ),
    )

    _say("4. 资金到位 money in: subsidy tranches and 1:1 matching")
    g1, g2 = "G-YZ-2024-01", "G-CQ-2024-07"
    for grant, amount, voucher, tranche, on in [
        (g1, "12万", "拨-YZ-2024-001", 1, date(2024, 4, 15)),
        (g1, "8万", "拨-YZ-2024-002", 2, date(2024, 10, 15)),
        (g2, "90万", "拨-CQ-2024-001", 1, date(2024, 6, 1)),
        (g2, "60万", "拨-CQ-2025-001", 2, date(2025, 3, 1)),
    ]:
        _step(
            f"{grant} tranche {tranche} {amount}",
            partial(
                ledger.disburse,
                grant_id=grant,
                amount=y(amount),
                voucher=voucher,
                tranche=tranche,
                on=on,
                **officer,
            ),
        )
    _refused(
        "a third tranche beyond the approved 20万 (003 第九条)",
        lambda: ledger.disburse(
            grant_id=g1, amount=y("1万"), voucher="拨-YZ-2025-003", tranche=3, on=date(2025, 1, 10), **officer
        ),
    )
    _step(
        "matching committed by the host unit",
        lambda: ledger.commit_matching(
            grant_id=g1,
            amount=y("20万"),
            voucher="配承-YZ-001",
            funder="重庆市渝中区职业教育中心",
            on=date(2024, 4, 2),
            **officer,
        ),
    )
    _step(
        "matching committed by the sector authority",
        lambda: ledger.commit_matching(
            grant_id=g2,
            amount=y("150万"),
            voucher="配承-CQ-001",
            funder="市经济和信息化委员会",
            on=date(2024, 5, 25),
            **officer,
        ),
    )
    for grant, amount, voucher, on in [
        (g1, "10万", "配收-YZ-001", date(2024, 5, 10)),
        (g1, "10万", "配收-YZ-002", date(2024, 11, 5)),
        (g2, "80万", "配收-CQ-001", date(2024, 7, 1)),
    ]:
        _step(
            f"{grant} matching received {amount}",
            partial(
                ledger.receive_matching, grant_id=grant, amount=y(amount), voucher=voucher, on=on, **officer
            ),
        )

    _say("5. 支出 spending by permitted category (003 第九条, 000 第十三条)")
    spends = [
        (
            g1,
            "8.6万",
            "equipment",
            "subsidy",
            "training_system",
            "记-YZ-0101",
            "重庆某数码设备公司",
            date(2024, 5, 8),
        ),
        (
            g1,
            "12,500.00",
            "原材料消耗",
            "subsidy",
            "training_system",
            "记-YZ-0102",
            "耗材供应商",
            date(2024, 6, 3),
        ),
        (
            g1,
            "2.4万",
            "teacher_training",
            "subsidy",
            "cooperation",
            "记-YZ-0103",
            "市职教师资培训中心",
            date(2024, 10, 16),
        ),
        (g1, "1.8万", "curriculum", "subsidy", "patterns", "记-YZ-0104", "教材编写组", date(2024, 11, 20)),
        (
            g1,
            "6万",
            "infrastructure",
            "matching",
            "training_system",
            "记-YZ-0201",
            "装修公司",
            date(2024, 6, 18),
        ),
        (
            g1,
            "3.2万",
            "instructor_hire",
            "matching",
            "cooperation",
            "记-YZ-0202",
            "企业技师",
            date(2024, 9, 1),
        ),
        (
            g2,
            "56万",
            "equipment",
            "subsidy",
            "training_system",
            "记-CQ-0101",
            "工业机器人厂商",
            date(2024, 7, 20),
        ),
        (
            g2,
            "9.8万",
            "materials",
            "subsidy",
            "training_system",
            "记-CQ-0102",
            "钢材供应商",
            date(2024, 9, 5),
        ),
        (g2, "15万", "curriculum", "subsidy", "patterns", "记-CQ-0103", "课程开发团队", date(2025, 4, 2)),
        (g2, "12万", "research", "subsidy", "patterns", "记-CQ-0104", "教研室", date(2025, 6, 16)),
        (
            g2,
            "30万",
            "infrastructure",
            "matching",
            "cooperation",
            "记-CQ-0201",
            "实训楼改造",
            date(2024, 8, 8),
        ),
        (
            g2,
            "8.5万",
            "teacher_training",
            "matching",
            "cooperation",
            "记-CQ-0202",
            "师资研修",
            date(2025, 5, 9),
        ),
    ]
    for grant, amount, category, source, content, voucher, payee, on in spends:
        _step(
            f"{grant} {category} {amount} from {source}",
            partial(
                ledger.spend,
                grant_id=grant,
                amount=y(amount),
                category=category,
                source=source,
                content=content,
                voucher=voucher,
                payee=payee,
                on=on,
                **officer,
            ),
        )
    _refused(
        "a 差旅费 travel claim of 4,800.00",
        lambda: ledger.spend(
            grant_id=g1,
            amount=y("4800"),
            category="差旅费",
            source="subsidy",
            voucher="记-YZ-0105",
            payee="出差人员",
            on=date(2024, 8, 2),
            **officer,
        ),
    )
    _refused(
        "a 劳务费 labour fee of 6,000.00",
        lambda: ledger.spend(
            grant_id=g2,
            amount=y("6000"),
            category="labour",
            source="subsidy",
            voucher="记-CQ-0105",
            payee="临时人员",
            on=date(2024, 8, 2),
            **officer,
        ),
    )
    _refused(
        "an overspend of 15万 from the district base's subsidy (003 第十条)",
        lambda: ledger.spend(
            grant_id=g1,
            amount=y("15万"),
            category="equipment",
            source="subsidy",
            voucher="记-YZ-0106",
            payee="设备公司",
            on=date(2024, 12, 1),
            **officer,
        ),
    )

    _say("6. 冲销 a reversal: the materials voucher was entered twice")
    _step(
        "reverse 记-YZ-0102",
        lambda: ledger.reverse(
            grant_id=g1, voucher="记-YZ-0102", reason="重复入账，原凭证作废", on=date(2024, 6, 10), **officer
        ),
    )
    _step(
        "re-record the materials at the right amount",
        lambda: ledger.spend(
            grant_id=g1,
            amount=y("10,500.00"),
            category="materials",
            source="subsidy",
            content="training_system",
            voucher="记-YZ-0107",
            payee="耗材供应商",
            on=date(2024, 6, 10),
            **officer,
        ),
    )

    _say("7. 监督 oversight: outputs, a mid-term evaluation with a rectification, the dossier")
    _step(
        "2024 outputs: 820 trained, 150 of them advanced",
        lambda: _on(
            ledger,
            g1,
            "output report",
            date(2025, 1, 10),
            officer,
            lambda g, p, who: g.report_output(
                year=2024, trainees=820, advanced=150, evaluations=0, advanced_evaluations=0, policy=p, **who
            ),
        ),
    )
    _step(
        "mid-term evaluation: rectify",
        lambda: _on(
            ledger,
            g1,
            "evaluate",
            date(2025, 4, 15),
            approver,
            lambda g, p, who: g.evaluate(
                kind="mid_term",
                result="rectify",
                evaluator="区人力社保局",
                summary="台账不全",
                policy=p,
                **who,
            ),
        ),
    )
    _step(
        "rectification R1 ordered, due 2025-06-30",
        lambda: _on(
            ledger,
            g1,
            "rectify order",
            date(2025, 4, 15),
            approver,
            lambda g, p, who: g.order_rectification(
                ref="R1", finding="支出台账与凭证不一致", deadline=date(2025, 6, 30), policy=p, **who
            ),
        ),
    )
    _step(
        "rectification R1 completed",
        lambda: _on(
            ledger,
            g1,
            "rectify complete",
            date(2025, 6, 20),
            officer,
            lambda g, p, who: g.complete_rectification(ref="R1", note="已补齐台账", policy=p, **who),
        ),
    )
    summary = "2024年度工作总结".encode()
    _step(
        "dossier: the 2024 work summary (sha256 only, 003 第十二条)",
        lambda: _on(
            ledger,
            g1,
            "dossier add",
            date(2025, 1, 10),
            officer,
            lambda g, p, who: g.add_dossier(
                kind="summary",
                title="2024年度工作总结",
                sha256=hashlib.sha256(summary).hexdigest(),
                policy=p,
                **who,
            ),
        ),
    )
    s.catch_up()


def _on(ledger: Any, grant_id: str, action: str, on: date, who: dict[str, Any], decide: Any) -> Any:
    return ledger.record(
        grant_id=grant_id,
        action=action,
        on=on,
        role=who["role"],
        decide=lambda g, p: decide(g, p, {**who, "on": on}),
        done=f"{action} recorded",
        repeat=f"{action} already recorded",
    )


def _review(ledger: Any, grant_id: str, panel: int, on: date, who: dict[str, Any]) -> Any:
    return _on(
        ledger,
        grant_id,
        "grant review",
        on,
        who,
        lambda g, p, w: g.record_review(panel=panel, recommended=True, opinion="同意推荐", policy=p, **w),
    )


def _notice(ledger: Any, grant_id: str, start: date, end: date, who: dict[str, Any]) -> Any:
    return _on(
        ledger,
        grant_id,
        "grant notice",
        end,
        who,
        lambda g, p, w: g.record_notice(start=start, end=end, objections=0, where="政府网站", policy=p, **w),
    )


@click.command("demo")
@click.option("--replace", is_flag=True, help=f"replace an existing ./{DEMO_FILE}")
@click.pass_context
def demo_command(ctx: click.Context, replace: bool) -> None:
    """Record a realistic scenario from the policy documents and print the balances.

    Uses ./grant-ledger-demo.db unless --db names another (new) database.

    \b
    Examples:
      grant-ledger demo
      grant-ledger --db /tmp/demo.db demo
    """
    s = settings()
    if s.db is None:
        path = Path(DEMO_FILE)
        if path.exists():
            if not replace:
                raise click.UsageError(f"./{DEMO_FILE} exists; pass --replace to start afresh")
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        s.db = str(path)
    from projections.status import stored_head

    if stored_head(s.engine()) > 0:
        raise click.UsageError("the demo needs an empty database; this one already holds events")
    _say(f"grant-ledger demo on {s.url}\n")
    run_demo(s)
    _say("\n8. 余额表 balance report")
    from commands.balance import balance_command

    ctx.invoke(balance_command, base_ids=(), as_of=None, known_at=None, fmt="table")
    _say("\n9. 合规预警 findings as of 2025-06-30 (report findings)")
    from commands.findings import findings_command

    ctx.invoke(findings_command, base_ids=(), as_of=datetime(2025, 6, 30), fmt="table")


def register(cli: click.Group) -> None:
    cli.add_command(demo_command)
