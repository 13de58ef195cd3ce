"""``policy show``: the programmes and spending categories in force, with their clauses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from commands.context import settings
from commands.dates import DATE
from commands.i18n import _
from commands.output import table
from ledger.clock import business_today
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
    """Print programmes, spending categories, the clauses, and every rule with its clause.

    \b
    Examples:
      grant-ledger policy show
      grant-ledger --lang en policy show --date 2024-06-30
    """
    lang = settings().lang
    policy = _policy_on(on)
    zh = lang == "zh"
    click.echo(
        _("policy version {version} (in force from {day}) {title}").format(
            version=policy.version, day=policy.effective_from.isoformat(), title=policy.title
        )
    )
    years = ", ".join(str(y) for y in sorted(policy.calendar_years()))
    click.echo(
        _(
            "statutory calendar (holidays and 调休): {years} (add a year with `grant-ledger policy install`)"
        ).format(years=years)
    )
    click.echo("")
    click.echo(_("Spending categories"))
    rows = [
        (
            c.code,
            c.label(lang),
            _("allowed") if c.allowed else _("BANNED"),
            "; ".join(cl.cite for cl in c.clauses),
        )
        for c in policy.categories.values()
    ]
    headers = [_("code"), _("category"), _("status"), _("clause")]
    click.echo(table(headers, rows, numeric=set()))
    click.echo("")
    click.echo(_("Programmes"))
    prows = []
    for p in policy.programmes.values():
        if p.subsidy_min is None:
            subsidy = _("set at approval")
        elif p.subsidy_min == p.subsidy_max:
            subsidy = format_yuan(p.subsidy_min)
        else:
            subsidy = f"{format_yuan(p.subsidy_min)}–{format_yuan(p.subsidy_max or p.subsidy_min)}"
        matching = f"1:{p.matching_ratio}" if p.matching_ratio else "—"
        years = f"{p.build_years}" if p.build_years else "—"
        prows.append((p.code, p.label(lang), subsidy, matching, years, p.subsidy_clause.cite))
    pheaders = [_("code"), _("programme"), _("subsidy (yuan)"), _("matching"), _("build years"), _("clause")]
    click.echo(table(pheaders, prows, numeric={2}))
    click.echo("")
    click.echo(_("Spending per programme"))
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
    sheaders = [_("code"), _("allowed categories"), _("clause"), _("banned by")]
    click.echo(table(sheaders, srows, numeric=set()))
    click.echo("")
    click.echo(_("Approving bodies (`body add … --kind --duty`)"))
    for p in policy.programmes.values():
        bodies = "、".join(f"{b} ({r})" for b, r in zip(p.approving_bodies, p.approvers, strict=False))
        click.echo(f"  {p.code}: {bodies} — {p.approval_clause.cite}")
    click.echo("")
    click.echo(_("Clauses"))
    for clause in policy.clauses.values():
        doc = policy.documents[clause.doc]
        click.echo(f"  {clause.key}: {clause.cite} {doc.number} — “{clause.words}”")
    click.echo("")
    click.echo(_("Rules (`policy rules --format markdown`)"))
    click.echo(_rules_text(policy, zh))


def _policy_on(on: object) -> Any:
    """The policy in force on ``on`` (default: today), installed versions included."""
    from ledger.errors import NotFoundError

    try:
        settings().load_installed_policy()
    except NotFoundError:  # no ledger here: the shipped policy alone
        from ledger.policy_installed import forget_installed

        forget_installed()
    day = on.date() if on is not None else business_today()  # type: ignore[attr-defined]
    return policy_in_force(day)


def _rules_text(policy: Any, zh: bool) -> str:
    from ledger.catalogue import text

    return text(policy, zh)


@click.command("rules")
@click.option(
    "--date",
    "on",
    type=DATE,
    default=None,
    help="the version in force on this business date (default: today)",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown"]),
    default="text",
    show_default=True,
    help="a table to read, or the markdown table of the README",
)
def rules_command(on: object, fmt: str) -> None:
    """Print every rule the ledger judges: its clause and words, refused (exit 3) or flagged
    (report findings), and the test that proves it.

    \b
    Examples:
      grant-ledger policy rules
      grant-ledger --lang en policy rules --format markdown
    """
    from ledger.catalogue import markdown

    policy = _policy_on(on)
    zh = settings().lang == "zh"
    if fmt == "markdown":
        click.echo(markdown(policy, zh), nl=False)
    else:
        click.echo(_rules_text(policy, zh))


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
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--date", "on", type=DATE, default=None, help="business date (optional)")
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
    from ledger.errors import BadInputError
    from ledger.policy_book import InstallPolicy

    try:  # a file missing is bad input (exit 2) as for `import`: click said so, unless it went since
        raw = file.read_bytes()
    except OSError as e:
        raise BadInputError(_("{path} cannot be read: {error}").format(path=file, error=e.strerror)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadInputError(
            _("{path} is not UTF-8 text; policy data is a TOML file").format(path=file)
        ) from None
    day = on.date() if on is not None else None  # type: ignore[attr-defined]
    record(action(InstallPolicy, file_name=file.name, text=text, on=day))
    settings().ledger().register_installed_policy()


def register(cli: click.Group) -> None:
    policy_group.add_command(show_command)
    policy_group.add_command(rules_command)
    policy_group.add_command(calendar_command)
    policy_group.add_command(install_command)
    cli.add_command(policy_group)
