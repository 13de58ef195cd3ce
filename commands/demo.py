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
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import click

from commands.context import Settings, settings
from commands.i18n import _
from ledger.actions import (
    Action,
    AddToDossier,
    Apply,
    Approve,
    CommitMatching,
    CompleteRectification,
    Disburse,
    Evaluate,
    Notice,
    OrderRectification,
    ReceiveMatching,
    Recommend,
    RegisterBudget,
    RegisterUnit,
    ReportOutput,
    Reverse,
    Review,
    Spend,
)
from ledger.body_actions import AddBody
from ledger.errors import LedgerError
from ledger.labels import label
from ledger.money import parse_amount
from ledger.seal import Signer

DEMO_FILE = "grant-ledger-demo.db"


def _say(text: str) -> None:
    click.echo(text)


@dataclass(frozen=True)
class Step:
    """One line of the scenario: an action recorded by a person, or refused with its rule."""

    label: str
    who: tuple[str, str]  # (actor, role)
    action: Action
    refused: bool = False


@dataclass(frozen=True)
class Section:
    title: str


_y = parse_amount
OFFICER = ("财务-李敏", "officer")
APPROVER = ("区人力社保局-王强", "approver")
CITY = ("市人力社保局-陈静", "approver")
G1, G2 = "G-YZ-2024-01", "G-CQ-2024-07"


def _spend(
    grant: str, amount: str, category: str, source: str, content: str, voucher: str, payee: str, on: date
) -> Step:
    return Step(
        _("{grant} {category} {amount} from {source}").format(
            grant=grant, category=category, amount=amount, source=label("source", source)
        ),
        OFFICER,
        Spend(
            grant_id=grant,
            amount=_y(amount),
            category=category,
            source=source,
            content=content,
            voucher=voucher,
            payee=payee,
            on=on,
        ),
    )


def _review(grant: str, panel: int, on: date) -> Review:
    return Review(grant_id=grant, panel=panel, recommended=True, opinion="同意推荐", on=on)


def _notice(grant: str, start: date, end: date) -> Notice:
    return Notice(grant_id=grant, start=start, end=end, objections=0, where="政府网站", on=end)


def _institute_approval(on: date) -> Approve:
    """The city's approval of the institute G2: 150万, built to the end of 2026."""
    return Approve(
        grant_id=G2,
        amount=_y("¥1500000"),
        document="渝人社〔2024〕96号",
        bodies=("RS-CQ",),
        build_end=date(2026, 12, 31),
        on=on,
    )


def scenario() -> list[Step | Section]:
    """The demo's acts in the order they are recorded."""
    return [
        Section(_("1. 推荐和审批部门 recommending and approving bodies, and 承建单位 host units")),
        *[
            Step(
                _("body {code} {name}").format(code=code, name=name),
                (ADMIN, "admin"),
                AddBody(
                    code=code, body_name=name, kind=kind, duty=duty, district=district, on=date(2024, 1, 2)
                ),
            )
            for code, name, kind, duty, district in DEMO_BODIES
        ],
        Step(
            _("渝中区职业教育中心"),
            OFFICER,
            RegisterUnit(
                unit_id="U-YZ-001",
                unit_name="重庆市渝中区职业教育中心",
                district="500103",  # 渝中区
                on=date(2024, 2, 20),
            ),
        ),
        Step(
            _("重庆市工业技师学院"),
            OFFICER,
            RegisterUnit(
                unit_id="U-CQ-002",
                unit_name="重庆市工业技师学院",
                kind="technician_college",
                district="500106",  # 沙坪坝区
                on=date(2024, 2, 20),
            ),
        ),
        Section(_("2. 区级基地 district base B0001 (003): application and approval")),
        Step(
            _("apply"),
            OFFICER,
            Apply(
                grant_id=G1,
                unit_id="U-YZ-001",
                base_id="B0001",
                base_name="渝中区数字技能高技能人才培训基地",
                programme="district_base",
                projects=(
                    "电子商务师",
                    "网络与信息安全管理员",
                ),
                requested=_y("20万"),
                on=date(2024, 3, 1),
            ),
        ),
        Step(
            _("a second district base for the same unit (003 第八条)"),
            OFFICER,
            Apply(
                grant_id="G-YZ-2024-09",
                unit_id="U-YZ-001",
                base_id="B0009",
                base_name="渝中区第二个区级基地",
                programme="district_base",
                projects=("茶艺师",),
                requested=_y("20万"),
                on=date(2024, 3, 2),
            ),
            refused=True,
        ),
        Step(
            _("an expert panel of 4 (003 表5: at least 5, an odd number)"),
            APPROVER,
            _review(G1, 4, date(2024, 3, 20)),
            refused=True,
        ),
        Step(_("expert review, panel of 7"), APPROVER, _review(G1, 7, date(2024, 3, 20))),
        Step(
            _("public notice 2024-03-25..29 (5 working days, 002 五(二))"),
            APPROVER,
            _notice(G1, date(2024, 3, 25), date(2024, 3, 29)),
        ),
        Step(
            _("the notice recorded again to change it (nothing erased — 002 五(二))"),
            APPROVER,
            Notice(
                grant_id=G1,
                start=date(2024, 3, 25),
                end=date(2024, 4, 1),
                where="政府网站",
                on=date(2024, 4, 1),
            ),
            refused=True,
        ),
        Step(
            _("approve"),
            APPROVER,
            Approve(
                grant_id=G1,
                amount=_y("200,000.00"),
                document="渝中人社〔2024〕18号",
                bodies=(
                    "RS-YZ",
                    "CZ-YZ",
                ),
                on=date(2024, 4, 1),
            ),
        ),
        Step(
            _("budget plan (003 表4-2: 地方财政 → subsidy, 行业企业 → matching)"),
            OFFICER,
            RegisterBudget(
                grant_id=G1,
                lines={
                    "training_system/local_finance": _y("11万"),
                    "cooperation/local_finance": _y("5万"),
                    "patterns/local_finance": _y("4万"),
                    "training_system/industry": _y("12万"),
                    "cooperation/industry": _y("8万"),
                },
                on=date(2024, 4, 2),
            ),
        ),
        Section(_("3. 职业训练院 B0002 (000): 150万 for 3 projects")),
        Step(
            _("apply"),
            OFFICER,
            Apply(
                grant_id=G2,
                unit_id="U-CQ-002",
                base_id="B0002",
                base_name="重庆市工业技师学院职业训练院",
                programme="training_institute",
                projects=(
                    "工业机器人系统运维员",
                    "数控车工",
                    "焊工",
                ),
                requested=_y("150万元"),
                on=date(2024, 4, 10),
            ),
        ),
        Step(
            _("approved before its sector authority reviewed it (000 第十一条)"),
            CITY,
            _institute_approval(date(2024, 4, 12)),
            refused=True,
        ),
        Step(
            _("reviewed by its sector authority (000 第十一条)"),
            CITY,
            Recommend(grant_id=G2, recommender="JX-CQ", round_="2024", on=date(2024, 4, 15)),
        ),
        Step(_("expert review, panel of 5"), CITY, _review(G2, 5, date(2024, 4, 25))),
        Step(_("public notice 2024-05-06..10"), CITY, _notice(G2, date(2024, 5, 6), date(2024, 5, 10))),
        Step(
            _("approve"),
            CITY,
            _institute_approval(date(2024, 5, 20)),
        ),
        Section(_("4. 资金到位 money in: subsidy tranches and 1:1 matching")),
        *[
            Step(
                _("{grant} tranche {tranche} {amount}").format(grant=grant, tranche=tranche, amount=amount),
                OFFICER,
                Disburse(grant_id=grant, amount=_y(amount), voucher=voucher, tranche=tranche, on=on),
            )
            for grant, amount, voucher, tranche, on in [
                (G1, "12万", "拨-YZ-2024-001", 1, date(2024, 4, 15)),
                (G1, "8万", "拨-YZ-2024-002", 2, date(2024, 10, 15)),
                (G2, "90万", "拨-CQ-2024-001", 1, date(2024, 6, 1)),
                (G2, "60万", "拨-CQ-2025-001", 2, date(2025, 3, 1)),
            ]
        ],
        Step(
            _("a third tranche beyond the approved 20万 (003 第九条)"),
            OFFICER,
            Disburse(
                grant_id=G1, amount=_y("1万"), voucher="拨-YZ-2025-003", tranche=3, on=date(2025, 1, 10)
            ),
            refused=True,
        ),
        Step(
            _("matching committed by the host unit"),
            OFFICER,
            CommitMatching(
                grant_id=G1,
                amount=_y("20万"),
                voucher="配承-YZ-001",
                funder="重庆市渝中区职业教育中心",
                on=date(2024, 4, 2),
            ),
        ),
        Step(
            _("matching committed by the sector authority"),
            OFFICER,
            CommitMatching(
                grant_id=G2,
                amount=_y("150万"),
                voucher="配承-CQ-001",
                funder="市经济和信息化委员会",
                on=date(2024, 5, 25),
            ),
        ),
        *[
            Step(
                _("{grant} matching received {amount}").format(grant=grant, amount=amount),
                OFFICER,
                ReceiveMatching(grant_id=grant, amount=_y(amount), voucher=voucher, on=on),
            )
            for grant, amount, voucher, on in [
                (G1, "10万", "配收-YZ-001", date(2024, 5, 10)),
                (G1, "10万", "配收-YZ-002", date(2024, 11, 5)),
                (G2, "80万", "配收-CQ-001", date(2024, 7, 1)),
            ]
        ],
        Section(_("5. 支出 spending by permitted category (003 第九条, 000 第十三条)")),
        _spend(
            G1,
            "8.6万",
            "equipment",
            "subsidy",
            "training_system",
            "记-YZ-0101",
            "重庆某数码设备公司",
            date(2024, 5, 8),
        ),
        _spend(
            G1,
            "12,500.00",
            "原材料消耗",
            "subsidy",
            "training_system",
            "记-YZ-0102",
            "耗材供应商",
            date(2024, 6, 3),
        ),
        _spend(
            G1,
            "2.4万",
            "teacher_training",
            "subsidy",
            "cooperation",
            "记-YZ-0103",
            "市职教师资培训中心",
            date(2024, 10, 16),
        ),
        _spend(
            G1, "1.8万", "curriculum", "subsidy", "patterns", "记-YZ-0104", "教材编写组", date(2024, 11, 20)
        ),
        _spend(
            G1,
            "6万",
            "infrastructure",
            "matching",
            "training_system",
            "记-YZ-0201",
            "装修公司",
            date(2024, 6, 18),
        ),
        _spend(
            G1,
            "3.2万",
            "instructor_hire",
            "matching",
            "cooperation",
            "记-YZ-0202",
            "企业技师",
            date(2024, 9, 1),
        ),
        _spend(
            G2,
            "56万",
            "equipment",
            "subsidy",
            "training_system",
            "记-CQ-0101",
            "工业机器人厂商",
            date(2024, 7, 20),
        ),
        _spend(
            G2,
            "9.8万",
            "materials",
            "subsidy",
            "training_system",
            "记-CQ-0102",
            "钢材供应商",
            date(2024, 9, 5),
        ),
        _spend(
            G2,
            "15万",
            "课程与教材开发",
            "subsidy",
            "patterns",
            "记-CQ-0103",
            "课程开发团队",
            date(2025, 4, 2),
        ),
        _spend(G2, "12万", "research", "subsidy", "patterns", "记-CQ-0104", "教研室", date(2025, 6, 16)),
        _spend(
            G2,
            "30万",
            "institute_function",
            "matching",
            "cooperation",
            "记-CQ-0201",
            "技能评价中心建设",
            date(2024, 8, 8),
        ),
        _spend(
            G2,
            "8.5万",
            "teacher_development",
            "matching",
            "cooperation",
            "记-CQ-0202",
            "师资研修",
            date(2025, 5, 9),
        ),
        Step(
            _("a 差旅费 travel claim of 4,800.00"),
            OFFICER,
            Spend(
                grant_id=G1,
                amount=_y("4800"),
                category="差旅费",
                source="subsidy",
                voucher="记-YZ-0105",
                payee="出差人员",
                on=date(2024, 8, 2),
            ),
            refused=True,
        ),
        Step(
            _("a 劳务费 labour fee of 6,000.00"),
            OFFICER,
            Spend(
                grant_id=G2,
                amount=_y("6000"),
                category="labour",
                source="subsidy",
                voucher="记-CQ-0105",
                payee="临时人员",
                on=date(2024, 8, 2),
            ),
            refused=True,
        ),
        Step(
            _("指导教师聘用 hiring instructors: a district base's use, not an institute's (000 第十三条)"),
            OFFICER,
            Spend(
                grant_id=G2,
                amount=_y("2万"),
                category="instructor_hire",
                source="subsidy",
                content="training_system",
                voucher="记-CQ-0106",
                payee="外聘教师",
                on=date(2024, 8, 5),
            ),
            refused=True,
        ),
        Step(
            _("an overspend of 15万 from the district base's subsidy (003 第十条)"),
            OFFICER,
            Spend(
                grant_id=G1,
                amount=_y("15万"),
                category="equipment",
                source="subsidy",
                voucher="记-YZ-0106",
                payee="设备公司",
                on=date(2024, 12, 1),
            ),
            refused=True,
        ),
        Section(_("6. 冲销 a reversal: the materials voucher was entered twice")),
        Step(
            _("reverse 记-YZ-0102"),
            OFFICER,
            Reverse(grant_id=G1, voucher="记-YZ-0102", reason="重复入账，原凭证作废", on=date(2024, 6, 10)),
        ),
        Step(
            _("re-record the materials at the right amount"),
            OFFICER,
            Spend(
                grant_id=G1,
                amount=_y("10,500.00"),
                category="materials",
                source="subsidy",
                content="training_system",
                voucher="记-YZ-0107",
                payee="耗材供应商",
                on=date(2024, 6, 10),
            ),
        ),
        Section(_("7. 监督 oversight: outputs, a mid-term evaluation with a rectification, the dossier")),
        Step(
            _("2024 outputs: 820 trained, 150 of them advanced"),
            OFFICER,
            ReportOutput(grant_id=G1, year=2024, trainees=820, advanced=150, on=date(2025, 1, 10)),
        ),
        Step(
            _("mid-term evaluation: rectify"),
            APPROVER,
            Evaluate(
                grant_id=G1,
                kind="mid_term",
                result="rectify",
                evaluator="区人力社保局",
                summary="台账不全",
                on=date(2025, 4, 15),
            ),
        ),
        Step(
            _("rectification R1 ordered, due 2025-06-30"),
            APPROVER,
            OrderRectification(
                grant_id=G1,
                ref="R1",
                finding="支出台账与凭证不一致",
                deadline=date(2025, 6, 30),
                on=date(2025, 4, 15),
            ),
        ),
        Step(
            _("rectification R1 completed"),
            OFFICER,
            CompleteRectification(grant_id=G1, ref="R1", note="已补齐台账", on=date(2025, 6, 20)),
        ),
        Step(
            _("dossier: the 2024 work summary (sha256 only, 003 第十二条)"),
            OFFICER,
            AddToDossier(
                grant_id=G1,
                kind="summary",
                title="2024年度工作总结",
                sha256=hashlib.sha256("2024年度工作总结".encode()).hexdigest(),
                on=date(2025, 1, 10),
            ),
        ),
    ]


ADMIN = "管理员-张伟"
# (code, name, kind, duty, district): who approves the district base (003 第七条: 渝中区's own bureaus)
# and the institute (000 第十一条)
DEMO_BODIES = (
    ("RS-YZ", "渝中区人力社保局", "district_bureau", "hr", "500103"),
    ("CZ-YZ", "渝中区财政局", "district_bureau", "finance", "500103"),
    ("RS-CQ", "重庆市人力资源和社会保障局", "municipal_bureau", "hr", None),
    ("JX-CQ", "重庆市经济和信息化委员会", "sector_authority", "sector", None),
)
# each person's key file in the demo's key directory
KEY_FILES = {
    ADMIN: "admin.key",
    OFFICER[0]: "officer.key",
    APPROVER[0]: "approver.key",
    CITY[0]: "city-approver.key",
}


def demo_keys(url: str) -> Path:
    """Beside the demo's file: ``grant-ledger-demo.db`` -> ``grant-ledger-demo-keys/``."""
    from ledger.location import sqlite_file

    path = sqlite_file(url)
    base = Path(path) if path is not None else Path(DEMO_FILE)
    return base.with_name(base.stem + "-keys")


def register_people(s: Settings) -> dict[str, Signer]:
    """The trust root and the demo's three people, each with a key pair in the key directory."""
    from ledger.people import RegisterPerson
    from ledger.seal import generate_key

    ledger = s.ledger()
    directory = demo_keys(s.url)
    signers = {name: generate_key(directory / file) for name, file in KEY_FILES.items()}
    ledger.found_registry(signers[ADMIN], ADMIN)
    _say(_("0. 人员与密钥 people and keys"))
    _say(
        _("  ✓ trust root: {name}, key {fingerprint} ({path})").format(
            name=ADMIN, fingerprint=signers[ADMIN].fingerprint, path=directory / KEY_FILES[ADMIN]
        )
    )
    for name, role in (OFFICER, APPROVER, CITY):
        person = RegisterPerson(person=name, person_role=role, public_key=signers[name].public_raw.hex())
        outcome = ledger.handle(person, signer=signers[ADMIN])
        _say(f"  ✓ {outcome.message} ({directory / KEY_FILES[name]})")
    return signers


def run_demo(s: Settings) -> None:
    ledger = s.ledger()
    signers = register_people(s)
    for step in scenario():
        if isinstance(step, Section):
            _say(step.title)
            continue
        actor, role = step.who
        try:
            outcome = ledger.handle(step.action, signer=signers[actor], role=role)
        except LedgerError as e:
            if not step.refused:
                raise
            _say(
                _("  ✗ {step} — refused (exit {code}): {message}").format(
                    step=step.label, code=e.exit_code, message=e.message
                )
            )
            continue
        if step.refused:  # pragma: no cover - the demo's refusals are rules the tests pin down
            raise click.ClickException(_("the demo expected '{step}' to be refused").format(step=step.label))
        _say(_("  ✓ {step}: {message}").format(step=step.label, message=outcome.message))
    s.catch_up()


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
                raise click.UsageError(
                    _("./{file} exists; pass --replace to start afresh").format(file=DEMO_FILE)
                )
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            keys = demo_keys(f"sqlite:///{path}")
            for file in KEY_FILES.values():
                for kind in (".key", ".pub"):
                    (keys / file.replace(".key", kind)).unlink(missing_ok=True)
        s.db = str(path)
    s.create()
    from projections.status import stored_head

    if stored_head(s.engine()) > 0:
        raise click.UsageError(_("the demo needs an empty database; this one already holds events"))
    _say(_("grant-ledger demo on {url}").format(url=s.url) + "\n")
    run_demo(s)
    _say("\n" + _("8. 余额表 balance report"))
    from commands.balance import balance_command

    ctx.invoke(balance_command, base_ids=(), as_of=None, known_at=None, fmt="table")
    _say("\n" + _("9. 合规预警 findings as of 2025-06-30 (report findings)"))
    from commands.findings import findings_command

    ctx.invoke(findings_command, base_ids=(), as_of=datetime(2025, 6, 30), fmt="table")


def register(cli: click.Group) -> None:
    cli.add_command(demo_command)
