"""Policy as data: programmes, spending categories and the clauses they come from.

The data lives in ``ledger/policy/*.toml``, one file per version; a rule is judged by the
version in force on the event's business date.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

from ledger.calendar import CalendarYear, parse_year
from ledger.errors import BadInputError
from ledger.i18n import T_, _
from ledger.policy_files import POLICY_FOLDER, shipped
from ledger.toml_text import parsed
from ledger.unit_kinds import UNIT_KINDS


@dataclass(frozen=True)
class Document:
    code: str
    file: str
    number: str
    title: str
    # the document's own date of effect (None: it states none)
    effective_from: date | None = None
    in_force_clause: str | None = None
    # a notice that announces one round of applications: the round, its first and last day
    round: str | None = None
    round_opens: date | None = None
    applications_due: date | None = None
    recommendations_due: date | None = None  # the last day a recommender's review is taken
    round_clause: str | None = None


@dataclass(frozen=True)
class Clause:
    key: str
    doc: str
    article: str
    words: str

    @property
    def cite(self) -> str:
        """Short citation, e.g. ``003 第九条``."""
        return f"{self.doc} {self.article}"

    def quote(self) -> str:
        return f"{self.cite}: “{self.words}”"


@dataclass(frozen=True)
class Category:
    code: str
    zh: str
    en: str
    allowed: bool
    clauses: tuple[Clause, ...]
    aliases: tuple[str, ...] = ()

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Content:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Spending:
    """What one programme's money pays for: ``allowed`` categories (cited by ``allowed_clause``),
    ``banned`` ones (cited by ``banned_clause``); any other category is not this programme's."""

    allowed: tuple[str, ...]
    allowed_clause: Clause
    banned: tuple[str, ...]
    banned_clause: Clause


@dataclass(frozen=True)
class Condition:
    """An application condition (原则上): a declared ``figure`` (or its share or ratio ``per``
    another figure) of at least ``at_least`` and at most ``at_most``; with ``kinds``, asked only
    of a unit of one of those kinds (002 四(一)1(2): "依托企业建设的")."""

    figure: str
    per: str | None
    at_least: Decimal | None
    at_most: Decimal | None
    clause: Clause
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutputTarget:
    """A yearly output: ``measure`` of a year's output report at least ``at_least``, for report
    years from the build start's year + ``from_year`` on."""

    measure: str
    at_least: Decimal
    from_year: int
    clause: Clause


@dataclass(frozen=True)
class Programme:
    code: str
    zh: str
    en: str
    level: str
    subsidy_min: Decimal | None
    subsidy_max: Decimal | None
    subsidy_clause: Clause
    matching_ratio: Decimal | None
    matching_funder: str | None
    matching_clause: Clause | None
    build_years: int | None
    build_clause: Clause | None
    projects_min: int | None
    projects_max: int | None
    approving_bodies: tuple[str, ...]
    approval_clause: Clause
    tiers: tuple[str, ...] = ()
    projects_clause: Clause | None = None
    spending: Spending | None = None
    conditions: tuple[Condition, ...] = ()
    outputs: tuple[OutputTarget, ...] = ()
    # the kinds of unit its bases rest on (empty: any), and the clause saying so
    hosts: tuple[str, ...] = ()
    hosts_clause: Clause | None = None

    @property
    def pays(self) -> bool:
        """False for a programme of policy support with no money (命名支持类)."""
        return self.subsidy_max is None or self.subsidy_max > 0

    document: str | None = None  # the document that sets the programme up
    # how many bases one round of that document selects (002 二), and the clause saying so
    selects: int | None = None
    selects_clause: Clause | None = None
    # of them, how many of some tiers (002 二(一): A or B 2, C or D 1), and of some kinds named at
    # application (002 二(二): 国际合作类 2, 数字技能类 3, 其他类 3)
    selects_tiers: tuple[tuple[tuple[str, ...], int], ...] = ()
    selects_tracks: tuple[tuple[tuple[str, ...], int], ...] = ()

    @property
    def tracks(self) -> tuple[str, ...]:
        """The kinds an application of the programme names (none: it names none)."""
        return tuple(t for group, _count in self.selects_tracks for t in group)

    # what each of ``approving_bodies`` is as a registered body: ``kind:duty`` (ledger.bodies)
    approvers: tuple[str, ...] = ()

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Policy:
    version: str
    effective_from: date
    title: str
    source: str
    documents: dict[str, Document] = field(hash=False)
    clauses: dict[str, Clause] = field(hash=False)
    categories: dict[str, Category] = field(hash=False)
    contents: dict[str, Content] = field(hash=False)
    programmes: dict[str, Programme] = field(hash=False)
    calendar: dict[int, CalendarYear] = field(hash=False, default_factory=dict)

    def calendar_years(self) -> dict[int, CalendarYear]:
        """The statutory calendar's years: this version's and those installed in the ledger."""
        return {**self.calendar, **INSTALLED_CALENDAR}

    def clause(self, key: str) -> Clause:
        return self.clauses[key]

    def programme(self, code: str) -> Programme:
        try:
            return self.programmes[code]
        except KeyError:
            known = ", ".join(self.programmes)
            msg = T_("unknown programme {code!r}; the programmes are: {known}", code=code, known=known)
            raise BadInputError(msg) from None

    def find_category(self, text: str) -> Category | None:
        """A category by its code (``travel``), its Chinese label (``差旅费``) or its English one."""
        key = text.strip()
        if key.lower() in self.categories:
            return self.categories[key.lower()]
        for category in self.categories.values():
            if key == category.zh or key in category.aliases or key.casefold() == category.en.casefold():
                return category
        return None

    def find_content(self, text: str) -> Content | None:
        """A construction content by its code, its Chinese label or its English one."""
        key = text.strip()
        if key.lower() in self.contents:
            return self.contents[key.lower()]
        for content in self.contents.values():
            if key == content.zh or key.casefold() == content.en.casefold():
                return content
        return None

    def find_programme(self, text: str) -> Programme | None:
        """A programme by its code (``district_base``), its Chinese name or its English one."""
        key = text.strip()
        if key in self.programmes:
            return self.programmes[key]
        for programme in self.programmes.values():
            if key == programme.zh or key.casefold() in (programme.en.casefold(), programme.code.casefold()):
                return programme
        return None


LEVELS = ("district", "institute", "municipal", "national")


def _dec(value: Any, name: str = "") -> Decimal | None:
    """A figure of the policy (an amount, a ratio, a count): a number of 0 or more, finite."""
    if value is None:
        return None
    figure: Decimal | None = None
    if not isinstance(value, bool) and isinstance(value, int | float | str):
        try:
            figure = Decimal(str(value).strip())
        except ArithmeticError:
            figure = None
    if figure is None or not figure.is_finite() or figure < 0:
        raise ValueError(
            _("{name} must be a number of 0 or more, not {value!r}").format(name=name, value=value)
        )
    return figure


def _whole(value: Any, name: str, least: int = 0) -> int | None:
    """A whole number of the policy (years, projects) of ``least`` or more."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(
            _("{name} must be a whole number of {least} or more, not {value!r}").format(
                name=name, least=least, value=value
            )
        )
    return value


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(_("{name} must be true or false, not {value!r}").format(name=name, value=value))
    return value


def _texts(value: Any, name: str) -> tuple[str, ...]:
    """A list of texts (codes, names) of the policy."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(_("{name} must be a list of texts, not {value!r}").format(name=name, value=value))
    return tuple(value)


def _day(value: Any, name: str) -> date | None:
    if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        raise ValueError(
            _("{name} must be a date (YYYY-MM-DD), not {value!r}").format(name=name, value=value)
        )
    return value


def _parse(data: dict[str, Any], source: str) -> Policy:
    documents = {
        code: Document(
            code=code,
            file=d["file"],
            number=d["number"],
            title=d["title"],
            effective_from=_day(d.get("effective_from"), f"[documents.{code}] effective_from"),
            in_force_clause=d.get("in_force_clause"),
            round=d.get("round"),
            round_opens=_day(d.get("round_opens"), f"[documents.{code}] round_opens"),
            applications_due=_day(d.get("applications_due"), f"[documents.{code}] applications_due"),
            recommendations_due=_day(d.get("recommendations_due"), f"[documents.{code}] recommendations_due"),
            round_clause=d.get("round_clause"),
        )
        for code, d in data["documents"].items()
    }
    clauses = {
        key: Clause(key=key, doc=c["doc"], article=c["article"], words=c["words"])
        for key, c in data["clauses"].items()
    }
    categories = {
        code: Category(
            code=code,
            zh=c["zh"],
            en=c["en"],
            allowed=_flag(c["allowed"], f"[categories.{code}] allowed"),
            clauses=tuple(clauses[k] for k in _texts(c["clauses"], f"[categories.{code}] clauses")),
            aliases=_texts(c.get("aliases", []), f"[categories.{code}] aliases"),
        )
        for code, c in data["categories"].items()
    }
    spending = {
        code: Spending(
            allowed=_texts(s["allowed"], f"[spending.{code}] allowed"),
            allowed_clause=clauses[s["allowed_clause"]],
            banned=_texts(s["banned"], f"[spending.{code}] banned"),
            banned_clause=clauses[s["banned_clause"]],
        )
        for code, s in data.get("spending", {}).items()
    }
    conditions = {
        code: tuple(
            Condition(
                figure=c["figure"],
                per=c.get("per"),
                at_least=_dec(c.get("at_least"), f"[[conditions.{code}]] at_least"),
                at_most=_dec(c.get("at_most"), f"[[conditions.{code}]] at_most"),
                clause=clauses[c["clause"]],
                kinds=_unit_kinds(c.get("kinds", [])),
            )
            for c in rows
        )
        for code, rows in data.get("conditions", {}).items()
    }
    outputs = {
        code: tuple(
            OutputTarget(
                measure=o["measure"],
                at_least=_dec(o["at_least"], f"[[outputs.{code}]] at_least") or Decimal(0),
                from_year=_whole(o.get("from_year", 0), f"[[outputs.{code}]] from_year") or 0,
                clause=clauses[o["clause"]],
            )
            for o in rows
        )
        for code, rows in data.get("outputs", {}).items()
    }
    contents = {code: Content(code=code, zh=c["zh"], en=c["en"]) for code, c in data["contents"].items()}
    hosts: dict[str, Any] = data.get("hosts", {})
    selection: dict[str, Any] = data.get("selection", {})
    for table, named in (("selection", selection), ("hosts", hosts)):
        unknown = sorted(set(named) - set(data["programmes"]))
        if unknown:  # a misspelt programme would silently drop its rule
            raise ValueError(_("[{table}.{code}] names no programme").format(table=table, code=unknown[0]))
    programmes = {}
    for code, p in data["programmes"].items():
        where = f"[programmes.{code}]"
        if p["level"] not in LEVELS:
            raise ValueError(
                _("{where} level must be one of {levels}, not {value!r}").format(
                    where=where, levels=", ".join(LEVELS), value=p["level"]
                )
            )
        least, most = (
            _dec(p.get("subsidy_min"), f"{where} subsidy_min"),
            _dec(p.get("subsidy_max"), f"{where} subsidy_max"),
        )
        if least is not None and most is not None and least > most:
            raise ValueError(
                _("{where} subsidy_min {least} is above subsidy_max {most}").format(
                    where=where, least=least, most=most
                )
            )
        document = p.get("document")
        if document is not None and document not in documents:
            raise ValueError(
                _("{where} document names no [documents] entry: {value}").format(where=where, value=document)
            )
        programmes[code] = Programme(
            code=code,
            zh=p["zh"],
            en=p["en"],
            level=p["level"],
            subsidy_min=least,
            subsidy_max=most,
            subsidy_clause=clauses[p["subsidy_clause"]],
            matching_ratio=_dec(p.get("matching_ratio"), f"{where} matching_ratio"),
            matching_funder=p.get("matching_funder"),
            matching_clause=clauses[p["matching_clause"]] if "matching_clause" in p else None,
            build_years=_whole(p.get("build_years"), f"{where} build_years", 1),
            build_clause=clauses[p["build_clause"]] if "build_clause" in p else None,
            projects_min=_whole(p.get("projects_min"), f"{where} projects_min"),
            projects_max=_whole(p.get("projects_max"), f"{where} projects_max"),
            approving_bodies=_texts(p.get("approving_bodies", []), f"{where} approving_bodies"),
            approval_clause=clauses[p["approval_clause"]],
            tiers=_texts(p.get("tiers", []), f"{where} tiers"),
            projects_clause=clauses[p["projects_clause"]] if "projects_clause" in p else None,
            spending=spending.get(code),
            conditions=conditions.get(code, ()),
            outputs=outputs.get(code, ()),
            hosts=_unit_kinds(hosts.get(code, {}).get("kinds", [])),
            hosts_clause=clauses[hosts[code]["clause"]] if code in hosts else None,
            document=document,
            selects=_count(selection[code]["count"]) if code in selection else None,
            selects_clause=clauses[selection[code]["clause"]] if code in selection else None,
            selects_tiers=tuple(
                (_tiers(g["tiers"], p.get("tiers", [])), _count(g["count"]))
                for g in selection.get(code, {}).get("tiers", [])
            ),
            selects_tracks=tuple(
                (_tracks(g["tracks"]), _count(g["count"])) for g in selection.get(code, {}).get("tracks", [])
            ),
            approvers=_texts(p.get("approvers", []), f"{where} approvers"),
        )
    calendar = {}
    for key, table in data.get("calendar", {}).items():
        year = parse_year(key, table, source)
        calendar[year.year] = year
    return Policy(
        calendar=calendar,
        version=str(data["version"]),
        effective_from=data["effective_from"],
        title=data["title"],
        source=source,
        documents=documents,
        clauses=clauses,
        categories=categories,
        contents=contents,
        programmes=programmes,
    )


# Calendar years an administrator installed in the open ledger (``policy install``), read from its
# log when the ledger is opened (ledger.policy_installed.register_installed).
INSTALLED_CALENDAR: dict[int, CalendarYear] = {}


@cache
def load_policies() -> tuple[Policy, ...]:
    """Every policy version shipped with the package, oldest first."""
    policies = [_parse(data, name) for name, data in shipped()]
    return tuple(sorted(policies, key=lambda p: p.effective_from))


# Policy versions an administrator installed in the open ledger, with their text (by source name).
INSTALLED_VERSIONS: dict[str, tuple[Policy, str]] = {}


def all_policies() -> tuple[Policy, ...]:
    """The shipped versions and those installed in the open ledger, oldest first."""
    if not INSTALLED_VERSIONS:
        return load_policies()
    installed = [p for p, _ in INSTALLED_VERSIONS.values()]
    return tuple(sorted((*load_policies(), *installed), key=lambda p: p.effective_from))


def _tiers(value: Any, tiers: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(t in tiers for t in value):
        raise ValueError(
            _("tiers {value!r} are not among the programme's {tiers}").format(value=value, tiers=tiers)
        )
    return tuple(value)


def groups_fit(policy: Policy) -> None:
    """Each programme's tier and kind groups (002 二: of the 3, A or B 2 and C or D 1) name each
    value once, and select no more than the round selects: a value in two groups would be counted
    in the first alone, and groups selecting more could never all be met. Judged when a version is
    installed (BadInputError, exit 2), not when one is read: a version an earlier release
    installed stays readable."""
    for programme in policy.programmes.values():
        for what, groups in (("tiers", programme.selects_tiers), ("tracks", programme.selects_tracks)):
            if not groups:
                continue
            values = [v for group, _count in groups for v in group]
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                msg = T_(
                    "{source}: [selection.{code}] names {value} in more than one group of its {what}",
                    source=policy.source,
                    code=programme.code,
                    value=twice[0],
                    what=what,
                )
                raise BadInputError(msg)
            total = sum(count for _group, count in groups)
            if programme.selects is None or total > programme.selects:
                msg = T_(
                    "{source}: the {what} groups of [selection.{code}] select {total}, more than its "
                    "count {count}",
                    source=policy.source,
                    what=what,
                    code=programme.code,
                    total=total,
                    count=programme.selects or 0,
                )
                raise BadInputError(msg)


TRACKS = ("international", "digital", "other")  # 国际合作类, 数字技能类, 其他类 (002 二(二))


def _tracks(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(t in TRACKS for t in value):
        raise ValueError(
            _("tracks {value!r} are not among {tracks}").format(value=value, tracks=", ".join(TRACKS))
        )
    return tuple(value)


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(_("count {value!r} is no whole number of bases").format(value=value))
    return value


def _unit_kinds(value: Any) -> tuple[str, ...]:
    """A list of kinds of unit (a programme's host units, the units a condition is asked of)."""
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise TypeError(_("kinds {value!r} is no list of kinds of unit").format(value=value))
    unknown = [k for k in value if k not in UNIT_KINDS]
    if unknown:
        raise ValueError(
            _("kind of unit {value!r} is none of {kinds}").format(
                value=unknown[0], kinds=", ".join(UNIT_KINDS)
            )
        )
    return tuple(value)


def parse_policy(text: str, source: str) -> Policy:
    """A policy version's text, or BadInputError saying what is missing or malformed."""
    try:
        data = parsed(text)
    except tomllib.TOMLDecodeError as e:
        raise BadInputError(_("{source} is not TOML: {e}").format(source=source, e=e)) from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise BadInputError(
            _("{source} is not TOML a reader can read: nested too deep").format(source=source)
        ) from None
    try:
        policy = _parse(data, source)
    except KeyError as e:
        raise BadInputError(
            _("{source}: a policy version needs {value!r}, which it lacks or names wrongly").format(
                source=source, value=e.args[0]
            )
        ) from None
    except (TypeError, ValueError, AttributeError, ArithmeticError) as e:
        raise BadInputError(_("{source}: not a policy version ({e})").format(source=source, e=e)) from None
    if not isinstance(policy.effective_from, date) or not policy.programmes or not policy.categories:
        raise BadInputError(
            _("{source}: a policy version has a date effective_from, programmes and categories").format(
                source=source
            )
        )
    return policy


def policy_in_force(on: date) -> Policy:
    """The version in force on a business date."""
    candidates = [p for p in all_policies() if p.effective_from <= on]
    if not candidates:
        first = all_policies()[0]
        msg = T_(
            "no policy is in force on {on}; the earliest version ({version}) takes effect on "
            "{effective_from}",
            on=on.isoformat(),
            version=first.version,
            effective_from=first.effective_from.isoformat(),
        )
        raise BadInputError(msg)
    return candidates[-1]


def current_policy() -> Policy:
    return all_policies()[-1]


def policy_text(policy: Policy) -> str:
    """The raw data file of a policy version (shipped in audit bundles)."""
    installed = INSTALLED_VERSIONS.get(policy.source)
    if installed is not None:
        return installed[1]
    return (POLICY_FOLDER / policy.source).read_text("utf-8")
