"""The policy data a bundle ships (``policy/*.toml``), bound by the verifier itself.

Nothing the checkpoints sign covers the policy file, and a bundle's own text cannot vouch for
itself; so the verifier carries the sha256 of every policy version the ledger has shipped
(``KNOWN``: ``ledger/policy/*.toml`` and the texts an earlier release shipped, held so by
``tests/test_workbook_verified.py``) and
accepts a file whose bytes are one of them, or the text of a version an administrator installed
(``grant-ledger policy install``): that text is an event of the bundle's log, signed and checked
like every other (a signer who is no administrator fails the bundle), so the file is bound into
what was signed.

Read with ``tomllib`` (standard library): only what the replay judges (categories, per programme)
and what the findings sheet reports (programmes' matching ratio, application conditions, host
units and output targets, clauses).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from audit.verifier.i18n import _
from audit.verifier.report import Report

POLICY_DIR = "policy"
# each shipped text, the ones an earlier release shipped (``FORMER``) included: a bundle exported
# then ships that text
FORMER = {
    # quotes cut short: 000 第十一条 without "经行业主管部门、区县人力社保部门审核后" (the review its rule
    # enforces), 002 六 without the ministries' filing, 000 第十三条 without "根据财政预算", 003 第十三条
    # without the staged evaluation the closure rests on
    "7c1ad927495f78000d4b51c9373e29960edc1189056268a4ced924eb1d532d08": "v1-2023.toml",
    # application conditions without 002 四(一)1's national ones (2000 人次, 一体化教师, 技师以上,
    # an enterprise's skilled share), 002 四(一)2(2)'s skilled share and the cooperation of 002
    # 四(一)2(4) and 003 第六条(四)
    "890daa52a0ecae0343ade00a9659ebc3e1d58cf648b1002537ab3516b7371a82": "v1-2023.toml",
    # without the count of bases a round of 002 selects (二)
    "13f193408b46614c6361f2fe028904bef93a8a9257dacd8e1f8b00b6ea4870fa": "v1-2023.toml",
    # the count without the national tiers' (二(一): A or B 2, C or D 1)
    "32638c5dd6582452ce2640e6bf17a00a3a735e74d51351e513e28df6cfb14dd5": "v1-2023.toml",
    # the count without the municipal kinds' (二(二): 国际合作类 2, 数字技能类 3, 其他类 3)
    "7280c747576145f636b72ae8cb70d3adaf7167c0baddc73a915f29acc06ff680": "v1-2023.toml",
}
# What the shipped text states that the former ones do not: the application conditions added
# from 002 四(一)1-2 and 003 第六条(四), each on a figure no former release let an applicant declare,
# and the count of bases a round selects (002 二: a finding of `report findings` alone, across
# grants). A former text is read with those it lacks, so that the rules it judges by are the
# shipped text's (a bundle shipping a former text cannot loosen them) and its own findings stay
# as they were. The clauses are cited (document and article), not quoted: the verifier prints no
# clause's words.
ADDED_TO_FORMER = """
[clauses.national_count]
doc = "002"
article = "二(一)"

[clauses.municipal_funded_count]
doc = "002"
article = "二(二)1"

[clauses.municipal_named_count]
doc = "002"
article = "二(二)2"

[selection.national_base]
count = 3
clause = "national_count"

[[selection.national_base.tiers]]
tiers = ["A", "B"]
count = 2

[[selection.national_base.tiers]]
tiers = ["C", "D"]
count = 1

[selection.municipal_base_funded]
count = 8
clause = "municipal_funded_count"

[[selection.municipal_base_funded.tracks]]
tracks = ["international"]
count = 2

[[selection.municipal_base_funded.tracks]]
tracks = ["digital"]
count = 3

[[selection.municipal_base_funded.tracks]]
tracks = ["other"]
count = 3

[selection.municipal_base_named]
count = 8
clause = "municipal_named_count"

[[selection.municipal_base_named.tracks]]
tracks = ["international"]
count = 2

[[selection.municipal_base_named.tracks]]
tracks = ["digital"]
count = 3

[[selection.municipal_base_named.tracks]]
tracks = ["other"]
count = 3
[clauses.national_capacity]
doc = "002"
article = "四(一)1(2)"

[clauses.national_skilled_share]
doc = "002"
article = "四(一)1(2)"

[clauses.national_teachers]
doc = "002"
article = "四(一)1(3)"

[clauses.municipal_skilled_share]
doc = "002"
article = "四(一)2(2)"

[clauses.municipal_cooperation]
doc = "002"
article = "四(一)2(4)"

[clauses.district_cooperation]
doc = "003"
article = "第六条(四)"

[[conditions.district_base]]
figure = "partners"
at_least = 2
clause = "district_cooperation"

[[conditions.district_base]]
figure = "joint_majors"
at_least = 2
clause = "district_cooperation"

[[conditions.municipal_base_funded]]
figure = "skilled_workers"
per = "workforce"
at_least = "0.35"
clause = "municipal_skilled_share"

[[conditions.municipal_base_funded]]
figure = "partners"
at_least = 3
clause = "municipal_cooperation"

[[conditions.municipal_base_funded]]
figure = "joint_majors"
at_least = 3
clause = "municipal_cooperation"

[[conditions.municipal_base_named]]
figure = "skilled_workers"
per = "workforce"
at_least = "0.35"
clause = "municipal_skilled_share"

[[conditions.municipal_base_named]]
figure = "partners"
at_least = 3
clause = "municipal_cooperation"

[[conditions.municipal_base_named]]
figure = "joint_majors"
at_least = 3
clause = "municipal_cooperation"

[[conditions.national_base]]
figure = "places"
at_least = 2000
clause = "national_capacity"

[[conditions.national_base]]
figure = "skilled_workers"
per = "workforce"
at_least = "0.40"
kinds = ["enterprise"]
clause = "national_skilled_share"

[[conditions.national_base]]
figure = "integrated_teachers"
per = "teachers"
at_least = "0.50"
clause = "national_teachers"

[[conditions.national_base]]
figure = "technician_instructors"
per = "instructors"
at_least = "0.40"
clause = "national_teachers"
"""
KNOWN = {
    **FORMER,
    "858ce7dade6259c02a937ee13b36ebbd1519d4b6623c0400218ee5a612b8d876": "v1-2023.toml",
}


@dataclass(frozen=True)
class Programme:
    code: str
    level: str
    matching_ratio: Decimal | None
    matching_clause: str | None  # its citation ("003 第三条")
    # [{"measure", "at_least", "from_year", "clause" (its citation)}]
    outputs: list[dict[str, Any]]
    # [{"figure", "per"?, "at_least"?, "at_most"?, "clause" (its citation)}]
    conditions: list[dict[str, Any]]
    hosts: list[str]
    hosts_clause: str | None
    # the categories its money pays for and those banned by name; None: the general list
    allowed: list[str] | None
    banned: list[str]
    zh: str = ""
    # the professions an application names, and the citation of the clause asking it
    projects_min: int | None = None
    projects_max: int | None = None
    projects_clause: str | None = None


_REMEMBERED = 4096  # answers of each kind, and only for a category text of up to _TEXT_REMEMBERED
_TEXT_REMEMBERED = 64  # characters (dates are ten)


@dataclass(frozen=True)
class BundlePolicy:
    name: str
    data: dict[str, Any]
    # every version the bundle ships, (effective_from as ISO text, version), oldest first
    versions: tuple[tuple[str, BundlePolicy], ...] = ()
    # each programme as ``programme`` made it, by code: asked for at every spending replayed
    _programmes: dict[str, Programme | None] = field(default_factory=dict, compare=False, repr=False)
    # the version in force by date and the category by its text, as asked for: up to _REMEMBERED
    # of each, texts of up to _TEXT_REMEMBERED only (a forged bundle's dates and texts must not
    # grow the verifier's memory)
    _by_date: dict[str, BundlePolicy | None] = field(default_factory=dict, compare=False, repr=False)
    _by_text: dict[str, tuple[str, bool] | None] = field(default_factory=dict, compare=False, repr=False)

    def in_force(self, on: str) -> BundlePolicy | None:
        """The version in force on the ISO date ``on`` (None: the bundle ships none so early)."""
        if not self.versions:
            return self
        try:
            return self._by_date[on]
        except KeyError:
            found = [v for day, v in self.versions if day <= on]
            version = found[-1] if found else None
            if len(self._by_date) < _REMEMBERED:
                self._by_date[on] = version
            return version

    def cite(self, key: str) -> str:
        clause = self.data["clauses"][key]
        return f"{clause['doc']} {clause['article']}"

    def category(self, text: str) -> tuple[str, bool] | None:
        """(code, allowed) of the category named by its code or Chinese label, as the ledger
        finds it (``ledger.policy.Policy.find_category``); None if unknown."""
        try:
            return self._by_text[text]
        except KeyError:
            found = self._category(text)
            if len(self._by_text) < _REMEMBERED and len(text) <= _TEXT_REMEMBERED:
                self._by_text[text] = found
            return found

    def _category(self, text: str) -> tuple[str, bool] | None:
        categories: dict[str, Any] = self.data["categories"]
        key = text.strip()
        if key.lower() in categories:
            return key.lower(), bool(categories[key.lower()]["allowed"])
        for code, c in categories.items():
            if key == c["zh"] or key in c.get("aliases", ()):
                return code, bool(c["allowed"])
        return None

    def content(self, text: str) -> str:
        """The construction content's code a stored text names (its code, its Chinese label or its
        English one, as ``ledger.policy.Policy.find_content`` finds it); else the text itself."""
        key = text.strip()
        contents: dict[str, Any] = self.data.get("contents", {})
        if key.lower() in contents:
            return key.lower()
        for code, c in contents.items():
            if key == c.get("zh") or key.casefold() == str(c.get("en", "")).casefold():
                return str(code)
        return text

    def allowed_codes(self) -> list[str]:
        return [code for code, c in self.data["categories"].items() if c["allowed"]]

    def programme(self, code: str) -> Programme | None:
        try:
            return self._programmes[code]
        except KeyError:
            made = self._programmes[code] = self._programme(code)
            return made

    def _programme(self, code: str) -> Programme | None:
        p = self.data["programmes"].get(code)
        if p is None:
            return None
        ratio = p.get("matching_ratio")
        clause = p.get("matching_clause")
        hosts = self.data.get("hosts", {}).get(code, {})
        spending = self.data.get("spending", {}).get(code)
        return Programme(
            code=code,
            level=p["level"],
            matching_ratio=None if ratio is None else Decimal(str(ratio)),
            matching_clause=None if clause is None else self.cite(clause),
            outputs=[
                o | {"clause": self.cite(o["clause"])} for o in self.data.get("outputs", {}).get(code, [])
            ],
            conditions=[
                c | {"clause": self.cite(c["clause"])} for c in self.data.get("conditions", {}).get(code, [])
            ],
            hosts=list(hosts.get("kinds", [])),
            hosts_clause=self.cite(hosts["clause"]) if "clause" in hosts else None,
            allowed=None if spending is None else list(spending["allowed"]),
            banned=[] if spending is None else list(spending["banned"]),
            zh=str(p.get("zh", "")),
            projects_min=p.get("projects_min"),
            projects_max=p.get("projects_max"),
            projects_clause=self.cite(p["projects_clause"]) if "projects_clause" in p else None,
        )


INSTALLED = "grant-ledger:PolicyBook.Installed"  # ledger.policy_book.INSTALLED
# the one aggregate holding every installed file (ledger.policy_installed.BOOK_ID): its events go
# out with any bundle, as the people registry's do
BOOK_ID = str(uuid5(NAMESPACE_URL, "https://grant-ledger/policy-book"))


@dataclass(frozen=True)
class Installed:
    """A ``policy install`` event of the bundle's log: its leaf index (-1: not a number), the
    sha256 of the text it installs, the file's name, and the version and the date it takes effect
    (None: the text is no policy version, a calendar year)."""

    leaf: int
    sha256: str
    name: str
    version: str | None
    effective_from: str | None


def installs_in_log(events: Path) -> dict[str, Installed]:
    """The bundle's ``policy install`` events by the sha256 of their text (the first of each; the
    events' own signatures and signers are checked with every other event's), in one pass."""
    found: dict[str, Installed] = {}
    if not events.is_file():
        return found
    for raw in _lines_holding(events, INSTALLED.encode("ascii")):
        try:
            line = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        record = line.get("record") if isinstance(line, dict) else None
        if not isinstance(record, dict) or record.get("topic") != INSTALLED:
            continue
        state = record.get("state")
        text = state.get("text") if isinstance(state, dict) else None
        if not isinstance(text, str):
            continue
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: no file holds it
            continue
        sha = hashlib.sha256(encoded).hexdigest()
        if sha in found:
            continue
        index = line.get("leaf_index")
        data = _version_data(encoded)
        name = state.get("name") if isinstance(state, dict) else None
        found[sha] = Installed(
            index if type(index) is int else -1,
            sha,
            name if isinstance(name, str) else "?",
            None if data is None else str(data.get("version")),
            None if data is None else str(data.get("effective_from")),
        )
    return found


def _lines_holding(path: Path, needle: bytes) -> Iterator[bytes]:
    """The lines of the file holding ``needle``, found by searching it 16 MB at a time: a
    million-event log has a handful of them, and reading it line by line in Python to find them
    took most of a second (mapping the file in memory instead counted its 812 MB in the process's
    resident size)."""
    with path.open("rb") as handle:
        rest = b""
        parts: list[bytes] = []  # a line longer than a chunk, gathered and joined once
        while chunk := handle.read(_SEARCHED):
            if b"\n" not in chunk:
                parts.append(chunk)
                continue
            if parts:
                rest, parts = rest + b"".join(parts), []
            block = rest + chunk if rest else chunk
            cut = block.rfind(b"\n") + 1  # whole lines only; the rest waits for the next chunk
            at = block.find(needle, 0, cut)
            while at != -1:
                start = block.rfind(b"\n", 0, at) + 1
                end = block.find(b"\n", at, cut) + 1
                yield block[start:end]
                at = block.find(needle, end, cut)
            rest = block[cut:]
        rest += b"".join(parts)
        if needle in rest:
            yield rest


_SEARCHED = 16 << 20


def _version_data(raw: bytes) -> dict[str, Any] | None:
    """An installed file's data if it is a policy version (what the replay and findings read)."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return None
    tables = ("categories", "programmes", "clauses")
    if "version" not in data or not all(isinstance(data.get(t), dict) for t in tables):
        return None
    return data


def bundle_policy(
    directory: Path, report: Report, events: Path | None = None, as_of: str | None = None
) -> BundlePolicy | None:
    """The bundle's policy: every version in force up to its date (``policy/*.toml``), each a
    version this verifier knows by its bytes or the text of a ``policy install`` event in the
    bundle's log (``events``); the latest one, which knows the earlier ones (a spend is judged by
    the version in force on its date, not by one installed later). Else a failure and None.
    Every version the log installs, in force by the bundle's date (``as_of``, else any), must
    be among the files: a version left out fails the bundle, whatever it would have judged."""
    installs = installs_in_log(events) if events is not None else {}
    _none_left_out(directory, report, installs, as_of)
    files = sorted((directory / POLICY_DIR).glob("*")) if (directory / POLICY_DIR).is_dir() else []
    if not files or not all(f.is_file() for f in files):
        report.fail(
            _("{folder}/: holds {count} files; a bundle ships the policy versions in force").format(
                folder=POLICY_DIR, count=len(files)
            )
        )
        return None
    versions = [_one_version(path, report, installs) for path in files]
    found = [v for v in versions if v is not None]
    if len(found) != len(versions):
        return None
    dated = sorted(((str(v.data.get("effective_from")), v) for v in found), key=lambda d: d[0])
    if len({day for day, _ in dated}) != len(dated):
        report.fail(
            _("{folder}/: two versions take effect on the same day; a day has one version in force").format(
                folder=POLICY_DIR
            )
        )
        return None
    late = [(day, v) for day, v in dated if isinstance(as_of, str) and day > as_of]
    for day, v in late:  # export ships the versions in force by the bundle's date, and no other
        report.fail(
            _(
                "{folder}/{name}: takes effect on {day}, after the bundle's date {as_of}; a bundle ships the "
                "policy versions in force up to its date"
            ).format(folder=POLICY_DIR, name=v.name, day=day, as_of=as_of)
        )
    if late:
        return None
    latest = dated[-1][1]
    return BundlePolicy(latest.name, latest.data, tuple(dated))


def _none_left_out(
    directory: Path, report: Report, installs: dict[str, Installed], as_of: str | None
) -> None:
    """A failure for each policy version the bundle's log installs, in force by its date, that
    ``policy/`` does not hold (by the sha256 of its text)."""
    wanted = [
        i
        for i in installs.values()
        if i.effective_from is not None and (not isinstance(as_of, str) or i.effective_from <= as_of)
    ]
    if not wanted:
        return
    folder = directory / POLICY_DIR
    files = [f for f in folder.glob("*") if f.is_file()] if folder.is_dir() else []
    shipped = {hashlib.sha256(f.read_bytes()).hexdigest() for f in files}
    for i in sorted(wanted, key=lambda i: i.leaf):
        if i.sha256 not in shipped:
            report.fail(
                _(
                    "{folder}/: the event at leaf {leaf} installs the policy version {version} ({name}), in "
                    "force from {day}, which the bundle does not ship; a bundle ships every version in "
                    "force up to its date"
                ).format(folder=POLICY_DIR, leaf=i.leaf, version=i.version, name=i.name, day=i.effective_from)
            )


def _one_version(path: Path, report: Report, installs: dict[str, Installed]) -> BundlePolicy | None:
    name = f"{POLICY_DIR}/{path.name}"
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    known = KNOWN.get(sha)
    if known is not None and known != path.name:
        report.fail(
            _("{name}: holds the policy version {known} under another name").format(name=name, known=known)
        )
        return None
    if known is None and sha in installs:
        data = _version_data(raw)
        if data is None:
            report.fail(
                _(
                    "{name}: installed in the log, but not a policy version (a calendar year, or no "
                    "categories, programmes and clauses); a bundle ships the version in force"
                ).format(name=name)
            )
            return None
        return BundlePolicy(path.name, data)
    if known is None:
        report.fail(
            _(
                "{name}: not a policy version this verifier knows (its sha256 is none of {known}); the "
                "rules it states are not the ledger's"
            ).format(name=name, known=", ".join(sorted(KNOWN.values())))
        )
        return None
    data = tomllib.loads(raw.decode("utf-8"))
    return BundlePolicy(known, with_added(data) if sha in FORMER else data)


def with_added(data: dict[str, Any]) -> dict[str, Any]:
    """A former text's data with what the shipped text added (``ADDED_TO_FORMER``) and it lacks:
    the clauses, each programme's conditions after its own, the counts selected."""
    added = tomllib.loads(ADDED_TO_FORMER)
    conditions = {code: list(rows) for code, rows in data.get("conditions", {}).items()}
    for code, rows in added["conditions"].items():
        conditions[code] = conditions.get(code, []) + [r for r in rows if r not in conditions.get(code, [])]
    own = data.get("selection", {})
    selection = {
        code: {**added["selection"].get(code, {}), **own.get(code, {})}
        for code in {**added["selection"], **own}
    }
    clauses = {**added["clauses"], **data["clauses"]}
    return {**data, "clauses": clauses, "conditions": conditions, "selection": selection}
