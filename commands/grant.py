"""``grant apply|recommend|review|notice|approve|reject|budget|adjust|close``: a grant's selection,
approval, budget plan and closure. Oversight and end-of-life money live in commands/lifecycle.py.

Selection runs apply → (recommend) → review → notice → approve; a step out of order is refused
(exit 3) naming the missing step. Budget sources of 003 表4-2 map to the ledger's fund sources:
地方财政 → subsidy (财政补助); 行业企业 and 其他 → matching (配套经费)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import click

from commands.choices import Named, named
from commands.context import action, record
from commands.dates import DATE, dated
from commands.i18n import N_, _
from commands.reading import file_options, format_by_name
from ledger.actions import (
    AdjustBudget,
    Apply,
    Approve,
    Close,
    Notice,
    Recommend,
    RegisterBudget,
    Reject,
    ResolveObjections,
    Review,
)
from ledger.errors import BadInputError
from ledger.money import parse_amount

FIGURE = click.IntRange(min=0, max=10_000_000)  # a declared figure (ledger.actions.Count)


@click.group("grant")
def grant_group() -> None:
    """A base's grant: application, approval and the rest of its life."""


@grant_group.command("apply")
@click.argument("grant_id")
@click.option("--unit", "unit_id", required=True, help="host unit id (registered first)")
@click.option("--base", "base_id", required=True, help="base id, e.g. B0001")
@click.option("--base-name", default="", help="the base's name, e.g. 渝中区数字技能高技能人才培训基地")
@click.option(
    "--programme",
    required=True,
    callback=named("programme"),
    help="programme code (see `grant-ledger policy show`)",
)
@click.option(
    "--project",
    "projects",
    multiple=True,
    help="a profession or project (repeat: 1–2 for a district base, 2–3 for an institute or a "
    "municipal base, at least 5 for a national base)",
)
@click.option(
    "--amount",
    "requested",
    help="requested amount, e.g. 20万 (100万–200万 for an institute; none for a named-support base)",
)
@click.option("--trained", type=FIGURE, help="declared: trained a year (年培训规模)")
@click.option("--advanced", type=FIGURE, help="declared: of them advanced level or above")
@click.option("--capacity", type=FIGURE, help="declared: high-skill trainees a year it can take")
@click.option("--students", type=FIGURE, help="declared: students (师生比, with --teachers)")
@click.option("--teachers", type=FIGURE, help="declared: teachers")
@click.option("--instructors", type=FIGURE, help="declared: practical-training teachers")
@click.option(
    "--senior-instructors",
    type=FIGURE,
    help="declared: of them senior instructors or senior technicians (高级实习指导教师、高级技师)",
)
@click.option(
    "--technician-instructors",
    type=FIGURE,
    help="declared: of them senior instructors or technicians and up (高级实习指导教师、技师以上; national)",
)
@click.option(
    "--integrated-teachers", type=FIGURE, help="declared: of the teachers, integrated (一体化教师; national)"
)
@click.option(
    "--places", type=FIGURE, help="declared: trainees a year it can take, any level (年培训人次; national)"
)
@click.option(
    "--workforce",
    type=FIGURE,
    help="declared: an enterprise's workforce, agency staff included (企业用工总量)",
)
@click.option("--skilled-workers", type=FIGURE, help="declared: of the workforce, skilled workers (技能人才)")
@click.option(
    "--partners", type=FIGURE, help="declared: large and medium enterprises it works with (合作企业)"
)
@click.option("--joint-majors", type=FIGURE, help="declared: majors built with those enterprises (共建专业)")
@click.option(
    "--track",
    help="a municipal base's kind: international (国际合作类), digital (数字技能类) or other (其他类)",
)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def apply_command(
    grant_id: str,
    unit_id: str,
    base_id: str,
    base_name: str,
    programme: str,
    projects: tuple[str, ...],
    requested: str | None,
    track: str | None,
    on: datetime | None,
    **figures: int | None,
) -> None:
    """Record a unit's application for a base under a programme.

    The figures an applicant declares (--trained, --advanced, --capacity, --students, --teachers,
    --instructors, --senior-instructors, --technician-instructors, --integrated-teachers,
    --places, --workforce, --skilled-workers, --partners, --joint-majors) are judged against the
    programme's application conditions (003 第六条, 002 四(一)1 and 2): a shortfall is a finding
    on the application (`report findings`), not a refusal; a figure not declared is not judged.
    A national base's share of skilled workers is asked of an enterprise only (依托企业建设的).
    A municipal base names its kind (--track): a round selects 2 international, 3 digital and 3
    other of each municipal programme (002 二(二)); past them, a finding of `report findings`.

    \b
    Examples:
      grant-ledger grant apply G-YZ-2024-01 --unit U-YZ-001 --base B0001 \\
          --base-name 渝中区数字技能培训基地 --programme district_base \\
          --project 电工 --amount 20万 --trained 900 --advanced 200 --capacity 320 \\
          --partners 2 --joint-majors 2 --date 2024-03-01
      grant-ledger grant apply G-GJ-2024-01 --unit U-CQ-009 --base B0009 \\
          --programme national_base --project 电工 --project 焊工 --project 钳工 \\
          --project 车工 --project 数控 --amount 500万 --places 2400 --teachers 80 \\
          --integrated-teachers 44 --instructors 50 --technician-instructors 21
    """
    record(
        action(
            Apply,
            grant_id=grant_id,
            unit_id=unit_id,
            base_id=base_id,
            base_name=base_name,
            programme=programme,
            projects=list(projects),
            requested=requested,
            declared={k: v for k, v in figures.items() if v is not None},
            track=track,
            on=dated(on),
        )
    )


@grant_group.command("approve")
@click.argument("grant_id")
@click.option(
    "--amount",
    help="approved subsidy, e.g. 200000 or 20万 (none for a named-support base: 命名支持类, no money)",
)
@click.option("--document", required=True, help="approval document number, e.g. 渝中人社〔2024〕12号")
@click.option(
    "--body",
    "bodies",
    multiple=True,
    help="the code of a registered approving body (repeat; `body list`): every body the programme "
    "requires, e.g. --body RS-YZ --body CZ-YZ for a district base (区人力社保局、区财政局)",
)
@click.option("--start", type=DATE, help="build period start (default: the approval date)")
@click.option("--end", type=DATE, help="build period end (default: start + the programme's years)")
@click.option("--tier", help="a national base's tier: A, B, C or D (002 二(一): 档次)")
@click.option("--date", "on", type=DATE, help="business date of the approval (default today)")
def approve_command(
    grant_id: str,
    amount: str | None,
    document: str,
    bodies: tuple[str, ...],
    start: datetime | None,
    end: datetime | None,
    tier: str | None,
    on: datetime | None,
) -> None:
    """Approve a grant: amount, document number, approving bodies and build period; a national
    base's tier (A or B: two a round, C or D: one; past them, a finding of `report findings`).

    \b
    Examples:
      grant-ledger --role approver grant approve G-YZ-2024-01 --amount 20万 \\
          --document 渝中人社〔2024〕12号 --body RS-YZ --body CZ-YZ --date 2024-04-01
      grant-ledger --role approver grant approve G-GJ-2024-01 --amount 500万 --tier B \\
          --document 渝人社〔2024〕88号 --body RS-CQ --body CZ-CQ --date 2024-09-01
    """
    record(
        action(
            Approve,
            grant_id=grant_id,
            amount=amount,
            document=document,
            bodies=list(bodies),
            build_start=start.date() if start else None,
            build_end=end.date() if end else None,
            tier=tier,
            on=dated(on),
        )
    )


def register(cli: click.Group) -> None:
    cli.add_command(grant_group)


LIST_KEYS = [
    "grant_id",
    "base_id",
    "base_name",
    "unit_id",
    "programme",
    "status",
    "applied_on",
    "approved",
    "tier",
    "track",
]
LIST_HEADERS = [
    N_("grant"),
    N_("base"),
    N_("base name"),
    N_("unit"),
    N_("programme"),
    N_("status"),
    N_("applied"),
    N_("approved"),
    N_("tier"),
    N_("kind"),
]


@grant_group.command("list")
@click.option(
    "--programme",
    callback=named("programme"),
    help="only this programme (district_base, training_institute, …)",
)
@click.option(
    "--status",
    type=Named("status", ["applied", "approved", "rejected", "closing", "closed"]),
    help="only grants in this status (applied, approved, rejected, closing, closed)",
)
@click.option("--base", "base_id", help="only this base")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]), default="table", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="write to this file")
@file_options
@format_by_name()
def list_command(
    programme: str | None, status: str | None, base_id: str | None, fmt: str, output: Path | None
) -> None:
    """Every grant, or those of one programme, status or base.

    \b
    Examples:
      grant-ledger grant list
      grant-ledger grant list --programme district_base --status approved --format csv
    """
    from commands.reading import emit, engine_for_reading
    from projections.reports import list_grants

    found = list_grants(engine_for_reading(), programme, status, base_id)
    rows = [[getattr(g, key) for key in LIST_KEYS] for g in found]
    emit(
        title=N_("grants"),
        keys=LIST_KEYS,
        headers=LIST_HEADERS,
        rows=rows,
        fmt=fmt,
        output=output,
        empty=N_("no grant matches"),
        named={"track": "track"},
    )


# ---------------------------------------------------------------------------- the rest of the life


def _money(value: str, option: str) -> Decimal:
    return parse_amount(value, field=option)


@grant_group.command("recommend")
@click.argument("grant_id")
@click.option(
    "--by",
    "recommender",
    required=True,
    help="the recommending body's code (`body list`): a district HR bureau or a sector authority",
)
@click.option(
    "--round", "round_", required=True, help="the round's year, e.g. 2024 (2024年 is the same round)"
)
@click.option("--rank", type=int, help="rank among the recommender's municipal recommendations (1 or 2)")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def recommend_command(
    grant_id: str, recommender: str, round_: str, rank: int | None, on: datetime | None
) -> None:
    """Record a recommendation (002 五(一): per recommending body and round at most 1 national
    base and 2 ranked municipal bases). Municipal and national bases are approved only on one.

    \b
    Example:
      grant-ledger --role approver grant recommend G1 --by RS-YZ --round 2024 --rank 1
    """
    record(
        action(Recommend, grant_id=grant_id, recommender=recommender, round_=round_, rank=rank, on=dated(on))
    )


@grant_group.command("review")
@click.argument("grant_id")
@click.option("--panel", type=int, required=True, help="number of experts (at least 5, odd — 003 表5)")
@click.option(
    "--recommendation",
    type=click.Choice(["recommend", "reject"]),
    required=True,
    help="the panel's recommendation",
)
@click.option("--opinion", default="", help="the panel's opinion, in brief")
@click.option(
    "--rereview-reason",
    default="",
    help="why a new review replaces the grant's earlier one (needed for every review after the first)",
)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def review_command(
    grant_id: str, panel: int, recommendation: str, opinion: str, rereview_reason: str, on: datetime | None
) -> None:
    """Record the expert review (专家评审) of an application. A review is never overwritten: a
    later one needs --rereview-reason, the latest decides, and the earlier stays in the history.

    \b
    Examples:
      grant-ledger --role approver grant review G1 --panel 5 --recommendation recommend
      grant-ledger --role approver grant review G1 --panel 7 --recommendation recommend \\
          --rereview-reason 申诉后复评
    """
    record(
        action(
            Review,
            grant_id=grant_id,
            panel=panel,
            recommended=recommendation == "recommend",
            opinion=opinion,
            rereview_reason=rereview_reason,
            on=dated(on),
        )
    )


@grant_group.command("notice")
@click.argument("grant_id")
@click.option("--from", "start", type=DATE, required=True, help="first day of the public notice")
@click.option("--to", "end", type=DATE, required=True, help="last day (at least 5 working days — 002 五(二))")
@click.option("--objections", type=click.IntRange(min=0), default=0, show_default=True)
@click.option("--where", default="", help="where it was published")
@click.option("--date", "on", type=DATE, help="business date (default: the last day of the notice)")
def notice_command(
    grant_id: str, start: datetime, end: datetime, objections: int, where: str, on: datetime | None
) -> None:
    """Record the public notice (公示) of the review's result, and any objections.

    \b
    Example:
      grant-ledger --role approver grant notice G1 --from 2024-03-11 --to 2024-03-15
    """
    record(
        action(
            Notice,
            grant_id=grant_id,
            start=start.date(),
            end=end.date(),
            objections=objections,
            where=where,
            on=on.date() if on else end.date(),
        )
    )


@grant_group.command("resolve-objections")
@click.argument("grant_id")
@click.option(
    "--document", required=True, help="the document that settles the objections, e.g. 渝人社函〔2024〕5号"
)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def resolve_objections_command(grant_id: str, document: str, on: datetime | None) -> None:
    """Settle the objections a public notice drew (002 五(二): 对公示无异议的，发文组织实施); the
    notice itself is never recorded again.

    \b
    Example:
      grant-ledger --role approver grant resolve-objections G1 --document 渝人社函〔2024〕5号
    """
    record(action(ResolveObjections, grant_id=grant_id, document=document, on=dated(on)))


@grant_group.command("reject")
@click.argument("grant_id")
@click.option("--reason", required=True, help="why the application is rejected")
@click.option("--document", default="", help="document number, if any")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def reject_command(grant_id: str, reason: str, document: str, on: datetime | None) -> None:
    """Reject an application; the unit may apply for a base of that level again.

    \b
    Example:
      grant-ledger --role approver grant reject G1 --reason 评审未通过
    """
    record(action(Reject, grant_id=grant_id, reason=reason, document=document, on=dated(on)))


def _lines(specs: tuple[str, ...], policy_on: date) -> dict[str, Decimal]:
    """``content:source:amount`` → {"content/source": amount} (003 表4-2)."""
    from ledger.grant import budget_source
    from ledger.policy import policy_in_force

    policy = policy_in_force(policy_on)
    if not specs:
        raise BadInputError(_("--line: give at least one line as content:source:amount"))
    lines: dict[str, Decimal] = {}
    for spec in specs:
        parts = spec.split(":", 2)
        if len(parts) != 3:
            msg = _(
                "--line {spec!r} is not content:source:amount, e.g. training_system:地方财政:10万"
            ).format(spec=spec)
            raise BadInputError(msg)
        content = policy.find_content(parts[0])
        if content is None:
            msg = _("--line: construction content {content!r} is unknown; use {contents}").format(
                content=parts[0], contents=", ".join(policy.contents)
            )
            raise BadInputError(msg)
        key = f"{content.code}/{budget_source(parts[1])}"
        if key in lines:
            msg = _("--line: {content} × {source} is given twice").format(
                content=content.code, source=parts[1]
            )
            raise BadInputError(msg)
        amount = parts[2].strip()
        lines[key] = Decimal("0.00") if amount in ("0", "0.00") else _money(amount, "--line")
    return lines


@grant_group.command("budget")
@click.argument("grant_id")
@click.option(
    "--line",
    "specs",
    multiple=True,
    help="content:source:amount (repeat); content training_system|cooperation|patterns, source "
    "地方财政 (local_finance → subsidy), 行业企业 (industry → matching), 其他 (other → matching)",
)
@click.option("--date", "on", type=DATE, help="business date (default today)")
def budget_command(grant_id: str, specs: tuple[str, ...], on: datetime | None) -> None:
    """Register the budget plan of table 4-2 (003): construction content × source → amount.

    Once a plan exists, spending per content and fund source stays within its line (exit 3).

    \b
    Example:
      grant-ledger grant budget G1 --line training_system:地方财政:10万 \\
          --line cooperation:地方财政:10万 --line training_system:行业企业:20万
    """
    day = dated(on)
    record(action(RegisterBudget, grant_id=grant_id, lines=_lines(specs, day), on=day))


@grant_group.command("adjust")
@click.argument("grant_id")
@click.option("--line", "specs", multiple=True, help="content:source:new amount (repeat)")
@click.option("--approval", required=True, help="approval reference for the change")
@click.option("--reason", default="", help="why")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def adjust_command(
    grant_id: str, specs: tuple[str, ...], approval: str, reason: str, on: datetime | None
) -> None:
    """Change budget lines, with an approval reference.

    \b
    Example:
      grant-ledger --role approver grant adjust G1 --line cooperation:地方财政:12万 \\
          --line patterns:地方财政:0 --approval 渝中人社函〔2025〕3号
    """
    day = dated(on)
    record(
        action(
            AdjustBudget,
            grant_id=grant_id,
            lines=_lines(specs, day),
            approval=approval,
            reason=reason,
            on=day,
        )
    )


@grant_group.command("close")
@click.argument("grant_id")
@click.option("--document", default="", help="closing document, if any")
@click.option("--date", "on", type=DATE, help="business date (default today)")
def close_command(grant_id: str, document: str, on: datetime | None) -> None:
    """Close a grant: refused unless the final evaluation passed, no rectification is open,
    ordered recoveries are received and both balances are zero or disposed of. Nothing is
    recorded against a closed grant.

    \b
    Example:
      grant-ledger --role approver grant close G1 --date 2026-05-10
    """
    record(action(Close, grant_id=grant_id, document=document, on=dated(on)))
