"""``policy show``: the programmes and spending categories in force, with their clauses."""

from __future__ import annotations

from datetime import date

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
    lang = settings().lang
    day = on.date() if on is not None else date.today()  # type: ignore[attr-defined]
    policy = policy_in_force(day)
    zh = lang == "zh"
    click.echo(
        f"{'政策版本' if zh else 'policy version'} {policy.version} "
        f"({'自' if zh else 'in force from'} {policy.effective_from.isoformat()}) "
        f"{policy.title}"
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
    click.echo("条款 (clauses)" if zh else "Clauses")
    for clause in policy.clauses.values():
        doc = policy.documents[clause.doc]
        click.echo(f"  {clause.key}: {clause.cite} {doc.number} — “{clause.words}”")


def register(cli: click.Group) -> None:
    policy_group.add_command(show_command)
    cli.add_command(policy_group)
