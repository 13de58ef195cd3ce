"""Build the gettext catalogues with Babel: ``python -m commands.catalogues`` (``make catalogues``)
extracts every marked message (``_``, ``N_``) and every command's help, updates each language's
``.po`` and compiles its ``.mo``; ``--check`` changes nothing and lists what is missing or stale
(exit 1). Chinese entries are written by people; English ones are the message ids themselves.

Babel is a development tool here (the ``test`` extra); the ledger reads the compiled ``.mo`` files
with the standard library's gettext.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("zh", "en")
# fixed, so that a rebuild of unchanged catalogues changes no byte
FIXED = datetime(2026, 1, 1, tzinfo=UTC)
KEYWORDS = {"_": None, "N_": None, "T_": None, "gettext": None, "ngettext": (1, 2)}


@dataclass(frozen=True)
class Domain:
    name: str
    sources: tuple[Path, ...]
    locale: Path
    skip: tuple[Path, ...] = ()
    english_identity: bool = True  # en .po holds msgstr = msgid


def domains() -> list[Domain]:
    import click

    return [
        Domain("ledger", (ROOT / "ledger", ROOT / "projections"), ROOT / "ledger" / "locale"),
        Domain("commands", (ROOT / "commands",), ROOT / "commands" / "locale", (ROOT / "commands" / "web",)),
        Domain("web", (ROOT / "commands" / "web",), ROOT / "commands" / "web" / "locale"),
        Domain("audit", (ROOT / "audit",), ROOT / "audit" / "locale", skip=(ROOT / "audit" / "verifier",)),
        Domain("verifier", (ROOT / "audit" / "verifier",), ROOT / "audit" / "verifier" / "locale"),
        # click's own messages, in Chinese only (its English is its source)
        Domain("click", (Path(click.__file__).parent,), ROOT / "commands" / "locale", english_identity=False),
    ]


def _python_files(domain: Domain) -> Iterator[Path]:
    for source in domain.sources:
        for path in sorted(p for p in source.rglob("*") if p.suffix in (".py", ".html")):
            if not any(path.is_relative_to(s) for s in domain.skip) and "locale" not in path.parts:
                yield path


def template(domain: Domain):  # type: ignore[no-untyped-def]
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract

    catalog = Catalog(project="grant-ledger", domain=domain.name, creation_date=FIXED, revision_date=FIXED)
    for path in _python_files(domain):
        with path.open("rb") as f:
            method = "jinja2" if path.suffix == ".html" else "python"
            for lineno, message, comments, _context in extract(method, f, keywords=KEYWORDS):
                where = path.relative_to(ROOT if path.is_relative_to(ROOT) else domain.sources[0].parent)
                catalog.add(message, locations=[(str(where), lineno)], auto_comments=comments)
    if domain.name == "click":
        # passed to gettext through a variable (``_(extra["required"])``), which extraction misses
        catalog.add("required", locations=[("click/core.py", 0)])
    if domain.name == "commands":
        from commands.cli import COMMAND_MODULES, cli
        from commands.i18n import help_strings

        for name in COMMAND_MODULES:
            cli.get_command(None, name)  # type: ignore[arg-type]
        for text in help_strings(cli):
            catalog.add(text, locations=[("commands/cli.py (help)", 0)], flags=["help"])
    return catalog


def _po(domain: Domain, lang: str) -> Path:
    return domain.locale / lang / "LC_MESSAGES" / f"{domain.name}.po"


def updated(domain: Domain, lang: str, source=None):  # type: ignore[no-untyped-def]
    """``lang``'s catalogue updated from ``source`` (the domain's extracted template; made here if
    not given, so that one extraction serves every language)."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po

    path = _po(domain, lang)
    if path.exists():
        with path.open("rb") as f:
            catalog = read_po(f, locale=lang, domain=domain.name)
    else:
        catalog = Catalog(locale=lang, domain=domain.name, project="grant-ledger")
    catalog.revision_date = FIXED
    catalog.update(template(domain) if source is None else source, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    if lang == "en" and domain.english_identity:
        for message in catalog:
            if message.id and not message.string:
                message.string = message.id
    return catalog


def missing(catalog) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            out.append(message.id if isinstance(message.id, str) else message.id[0])
    return out


def _bytes(catalog) -> tuple[bytes, bytes]:  # type: ignore[no-untyped-def]
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import write_po

    po, mo = io.BytesIO(), io.BytesIO()
    write_po(
        po,
        catalog,
        width=100,
        omit_header=False,
        ignore_obsolete=True,
        sort_output=True,
        include_lineno=False,
    )
    write_mo(mo, catalog)
    return po.getvalue(), mo.getvalue()


def run(check: bool) -> list[str]:
    """Update (or, with ``check``, only compare) every catalogue; the problems found."""
    problems = []
    for domain in domains():
        source = template(domain)
        for lang in LANGS:
            if lang == "en" and not domain.english_identity:
                continue
            catalog = updated(domain, lang, source)
            for msgid in missing(catalog):
                problems.append(f"{domain.name}/{lang}: untranslated: {msgid[:80]!r}")
            po, mo = _bytes(catalog)
            po_path = _po(domain, lang)
            mo_path = po_path.with_suffix(".mo")
            if check:
                if not mo_path.exists() or mo_path.read_bytes() != mo:
                    problems.append(
                        f"{domain.name}/{lang}: {mo_path.relative_to(ROOT)} is not compiled from the sources"
                    )
            else:
                po_path.parent.mkdir(parents=True, exist_ok=True)
                po_path.write_bytes(po)
                mo_path.write_bytes(mo)
    return problems


def main() -> None:
    check = "--check" in sys.argv[1:]
    problems = run(check)
    for line in problems:
        print(line)
    print(f"{len(problems)} problem(s)" if problems else "catalogues complete")
    sys.exit(1 if check and problems else 0)


if __name__ == "__main__":
    main()
