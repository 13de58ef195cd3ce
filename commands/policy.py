"""``policy show``: the programmes and spending categories in force, with their clauses."""

from __future__ import annotations

from pathlib import Path

import click

from commands.context import settings
from commands.dates import DATE
from commands.output import table
from ledger.money import format_yuan
from ledger.policy import policy_in_force


@click.group("policy")
def policy_group() -> None:
    """The policy data the ledger enforces."""


@click.command("show")
@click.option(
    "--date",
    "on",
    type=DATE,
    default=None,
    help="show the version in force on this business date (default: today)",
)
def show_command(on: object) -> None:
    """Print programmes, spending categories and the clause of each rule.

    \b
    Examples:
      grant-ledger policy show
      grant-ledger --lang en policy show --date 2024-06-30
    """
    from ledger.errors import NotFoundError

    lang = settings().lang
    try:
        settings().load_installed_policy()
    except NotFoundError:  # no ledger here: the shipped policy alone
        from ledger.policy_book import forget_installed

        forget_installed()
    from commands.context import today

    day = on.date() if on is not None else today()  # type: ignore[attr-defined]
    policy = policy_in_force(day)
    zh = lang == "zh"
    click.echo(
        f"{'政策版本' if zh else 'policy version'} {policy.version} "
        f"({'自' if zh else 'in force from'} {policy.effective_from.isoformat()}) "
        f"{policy.title}"
    )
    years = ", ".join(str(y) for y in sorted(policy.calendar_years()))
    add = (
        "其他年份以 grant-ledger policy install 添加" if zh else "add a year with grant-ledger policy install"
    )
    click.echo(
        f"{'法定节假日与调休日历' if zh else 'statutory calendar (holidays and 调休)'}: {years} ({add})"
    )
    click.echo("")
    click.echo("支出类别 (spending categories)" if zh else "Spending categories")
    rows = [
        (
            c.code,
            c.label(lang),
            ("允许" if zh else "allowed") if c.allowed else ("禁止" if zh else "BANNED"),
            "; ".join(cl.cite for cl in c.clauses),
        )
        for c in policy.categories.values()
    ]
    headers = ["代码", "类别", "状态", "依据"] if zh else ["code", "category", "status", "clause"]
    click.echo(table(headers, rows, numeric=set()))
    click.echo("")
    click.echo("项目类型 (programmes)" if zh else "Programmes")
    prows = []
    for p in policy.programmes.values():
        if p.subsidy_min is None:
            subsidy = "批复确定" if zh else "set at approval"
        elif p.subsidy_min == p.subsidy_max:
            subsidy = format_yuan(p.subsidy_min)
        else:
            subsidy = f"{format_yuan(p.subsidy_min)}–{format_yuan(p.subsidy_max or p.subsidy_min)}"
        matching = f"1:{p.matching_ratio}" if p.matching_ratio else "—"
        years = f"{p.build_years}" if p.build_years else "—"
        prows.append((p.code, p.label(lang), subsidy, matching, years, p.subsidy_clause.cite))
    pheaders = (
        ["代码", "名称", "补助(元)", "配套", "建设期(年)", "依据"]
        if zh
        else ["code", "programme", "subsidy (yuan)", "matching", "build years", "clause"]
    )
    click.echo(table(pheaders, prows, numeric={2}))
    click.echo("")
    click.echo("各类项目的支出范围 (spending per programme)" if zh else "Spending per programme")
    srows = [
        (
            p.code,
            ", ".join(p.spending.allowed) or "—",
            p.spending.allowed_clause.cite,
            p.spending.banned_clause.cite,
        )
        for p in policy.programmes.values()
        if p.spending is not None
    ]
    sheaders = ["代码", "允许类别", "依据", "禁止依据"] if zh else ["code", "allowed", "clause", "banned by"]
    click.echo(table(sheaders, srows, numeric=set()))
    click.echo("")
    click.echo("审批部门 (approving bodies, `body add … --kind --duty`)" if zh else "Approving bodies")
    for p in policy.programmes.values():
        bodies = "、".join(f"{b} ({r})" for b, r in zip(p.approving_bodies, p.approvers, strict=False))
        click.echo(f"  {p.code}: {bodies} — {p.approval_clause.cite}")
    click.echo("")
    click.echo("条款 (clauses)" if zh else "Clauses")
    for clause in policy.clauses.values():
        doc = policy.documents[clause.doc]
        click.echo(f"  {clause.key}: {clause.cite} {doc.number} — “{clause.words}”")


@click.command("calendar")
@click.argument("year", type=click.IntRange(1990, 2100))
def calendar_command(year: int) -> None:
    """Print a year's statutory calendar (holidays and 调休) as policy data, from the holidays library.

    The table goes into a file an administrator installs; the ledger never asks the library itself,
    so a verdict never changes when the library does.

    \b
    Example:
      grant-ledger policy calendar 2027 > 2027.toml
      grant-ledger --key admin.key policy install 2027.toml
    """
    from ledger.calendar import calendar_toml

    click.echo(calendar_toml(year), nl=False)


@click.command("install")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--date", "on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="business date (optional)"
)
def install_command(file: Path, on: object) -> None:
    """Install a year's statutory calendar or a new policy version (an administrator's act).

    The file is recorded, signed, in the ledger's log; from then on the ledger, its reports and its
    audit bundles judge with it. A file that changes what the ledger holds (a calendar year it has,
    a version that takes effect no later than the latest) is refused.

    \b
    Examples:
      grant-ledger --key admin.key policy install 2027.toml
      grant-ledger --key admin.key policy install v2-2025.toml
    """
    from commands.context import action, record
    from ledger.errors import BadInputError, NotFoundError
    from ledger.policy_book import InstallPolicy

    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{file} does not exist") from None
    except OSError as e:
        raise BadInputError(f"{file} cannot be read: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInputError(f"{file} is not UTF-8 text; policy data is a TOML file") from None
    day = on.date() if on is not None else None  # type: ignore[attr-defined]
    record(action(InstallPolicy, file_name=file.name, text=text, on=day))
    settings().ledger().register_installed_policy()


def register(cli: click.Group) -> None:
    policy_group.add_command(show_command)
    policy_group.add_command(calendar_command)
    policy_group.add_command(install_command)
    cli.add_command(policy_group)
