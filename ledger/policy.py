"""Policy as data: programmes, spending categories and the clauses they come from.

The data lives in ``ledger/policy/*.toml``, one file per version; a rule is judged by the
version in force on the event's business date.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from ledger.errors import BadInputError


@dataclass(frozen=True)
class Document:
    code: str
    file: str
    number: str
    title: str


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

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class Content:
    code: str
    zh: str
    en: str


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
    targets: dict[str, Any] = field(hash=False, compare=False)
    targets_clause: str = ""
    tiers: tuple[str, ...] = ()
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

    def clause(self, key: str) -> Clause:
        return self.clauses[key]

    def programme(self, code: str) -> Programme:
        try:
            return self.programmes[code]
        except KeyError:
            known = ", ".join(self.programmes)
            msg = f"unknown programme {code!r}; the programmes are: {known}"
            raise BadInputError(msg) from None

    def find_category(self, text: str) -> Category | None:
        """A category by its code (``travel``) or its Chinese label (``差旅费``)."""
        key = text.strip()
        if key.lower() in self.categories:
            return self.categories[key.lower()]
        for category in self.categories.values():
            if key == category.zh:
                return category
        return None

    def find_content(self, text: str) -> Content | None:
        key = text.strip()
        if key.lower() in self.contents:
            return self.contents[key.lower()]
        for content in self.contents.values():
            if key == content.zh:
                return content
        return None


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _parse(data: dict[str, Any], source: str) -> Policy:
    documents = {
        code: Document(code=code, file=d["file"], number=d["number"], title=d["title"])
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
            allowed=bool(c["allowed"]),
            clauses=tuple(clauses[k] for k in c["clauses"]),
        )
        for code, c in data["categories"].items()
    }
    contents = {code: Content(code=code, zh=c["zh"], en=c["en"]) for code, c in data["contents"].items()}
    programmes = {}
    for code, p in data["programmes"].items():
        programmes[code] = Programme(
            code=code,
            zh=p["zh"],
            en=p["en"],
            level=p["level"],
            subsidy_min=_dec(p.get("subsidy_min")),
            subsidy_max=_dec(p.get("subsidy_max")),
            subsidy_clause=clauses[p["subsidy_clause"]],
            matching_ratio=_dec(p.get("matching_ratio")),
            matching_funder=p.get("matching_funder"),
            matching_clause=clauses[p["matching_clause"]] if "matching_clause" in p else None,
            build_years=p.get("build_years"),
            build_clause=clauses[p["build_clause"]] if "build_clause" in p else None,
            projects_min=p.get("projects_min"),
            projects_max=p.get("projects_max"),
            approving_bodies=tuple(p.get("approving_bodies", ())),
            approval_clause=clauses[p["approval_clause"]],
            targets=dict(p.get("targets", {})),
            targets_clause=p.get("targets_clause", ""),
            tiers=tuple(p.get("tiers", ())),
            approvers=tuple(p.get("approvers", ())),
        )
    return Policy(
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


@cache
def load_policies() -> tuple[Policy, ...]:
    """Every policy version shipped with the package, oldest first."""
    folder = resources.files("ledger") / "policy"
    policies = []
    for entry in folder.iterdir():
        if entry.name.endswith(".toml"):
            policies.append(_parse(tomllib.loads(entry.read_text("utf-8")), entry.name))
    return tuple(sorted(policies, key=lambda p: p.effective_from))


def policy_in_force(on: date) -> Policy:
    """The version in force on a business date."""
    candidates = [p for p in load_policies() if p.effective_from <= on]
    if not candidates:
        first = load_policies()[0]
        msg = (
            f"no policy is in force on {on.isoformat()}; the earliest version "
            f"({first.version}) takes effect on {first.effective_from.isoformat()}"
        )
        raise BadInputError(msg)
    return candidates[-1]


def current_policy() -> Policy:
    return load_policies()[-1]


def policy_text(policy: Policy) -> str:
    """The raw data file of a policy version (shipped in audit bundles)."""
    return (resources.files("ledger") / "policy" / policy.source).read_text("utf-8")
