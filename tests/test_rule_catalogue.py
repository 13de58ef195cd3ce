"""The catalogue of rules (ledger/catalogue.py) is the source's: every rule a Breach or a refusal
names in ledger/, projections/ and commands/ is catalogued and nothing else is, each catalogued
clause is in the policy data and is the one the source cites, each test named exists and exercises
its rule, and the README's table is what `policy rules --format markdown` prints."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from commands.cli import cli
from ledger.catalogue import BY_NAME, RULES
from ledger.i18n import speaking
from ledger.labels import label
from ledger.policy import all_policies, current_policy

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "projections", "commands")
MAKERS = {"Breach", "RuleViolationError"}


def _maker(node: ast.Call) -> str | None:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    return name if name in MAKERS else None


def _argument(node: ast.Call, keyword: str, position: int) -> ast.expr | None:
    for k in node.keywords:
        if k.arg == keyword:
            return k.value
    return node.args[position] if len(node.args) > position else None


def _scan() -> tuple[dict[str, list[str]], dict[str, set[str]], list[str]]:
    """Rule name -> where it is named; rule name -> clause keys cited literally
    (``policy.clause("key")`` in the call); names not written as a literal."""
    named: dict[str, list[str]] = defaultdict(list)
    cited: dict[str, set[str]] = defaultdict(set)
    computed = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or (maker := _maker(node)) is None:
                    continue
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                rule = _argument(node, "rule", 0 if maker == "Breach" else 99)
                if rule is None:
                    continue
                if isinstance(rule, ast.Call) and isinstance(rule.func, ast.Name) and rule.func.id == "N_":
                    rule = rule.args[0]  # a rule's name marked for the catalogue: its label's id
                if not (isinstance(rule, ast.Constant) and isinstance(rule.value, str)):
                    computed.append(f"{where}: {ast.unparse(rule)}")
                    continue
                named[rule.value].append(where)
                clause = _argument(node, "clause", 1)
                if (
                    isinstance(clause, ast.Call)
                    and isinstance(clause.func, ast.Attribute)
                    and clause.func.attr == "clause"
                    and clause.args
                    and isinstance(clause.args[0], ast.Constant)
                ):
                    cited[rule.value].add(clause.args[0].value)
    return named, cited, computed


def test_the_scan_finds_the_rules_it_should() -> None:
    """The scan itself is not blind: it finds rules of each kind of call."""
    named, cited, _ = _scan()
    assert "ring-fence" in named and "approving bodies" in named  # keyword and positional Breach
    assert "people" in named and "policy install" in named  # RuleViolationError
    assert cited["ring-fence"] == {"ring_fence"}


def test_every_rule_in_the_source_is_catalogued_and_nothing_else() -> None:
    named, _, computed = _scan()
    assert sorted(set(named) - set(BY_NAME)) == [], "rules named in the source but not in ledger/catalogue.py"
    assert sorted(set(BY_NAME) - set(named)) == [], "catalogued rules no source names"
    assert len(BY_NAME) == len(RULES), "a rule catalogued twice"
    # a rule's name is a literal; what is not passes a breach's own name on (a new clause for it)
    assert all(re.search(r": (breach|self)\.rule$", c) for c in computed), computed


def test_every_catalogued_clause_is_in_the_policy_and_the_source_cites_no_other() -> None:
    _, cited, _ = _scan()
    for policy in all_policies():
        for rule in RULES:
            for key in rule.clauses:
                assert key in policy.clauses, (policy.version, rule.name, key)
    for name, keys in cited.items():
        assert keys <= set(BY_NAME[name].clauses), (name, keys - set(BY_NAME[name].clauses))
    for rule in RULES:
        assert bool(rule.clauses) != bool(rule.cite), f"{rule.name}: clauses from the policy, or a cite"
        assert rule.refused or rule.flagged, rule.name


def _test_source(ref: str) -> tuple[str, set[str]]:
    """The source of test ``tests/FILE.py::name`` and the strings it holds."""
    file, name = ref.split("::")
    path = ROOT / file
    assert path.is_file(), ref
    text = path.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            strings = {
                n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
            }
            return ast.get_source_segment(text, node) or "", strings
    raise AssertionError(f"{ref}: no such test")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.name)
def test_every_rule_has_a_test_that_exercises_it(rule: object) -> None:
    from ledger.catalogue import Rule

    assert isinstance(rule, Rule)
    assert rule.tests, f"{rule.name} has no test"
    assert all(t.startswith("tests/test_") and t.count("::") == 1 for t in rule.tests), rule.tests
    sources = [_test_source(t) for t in rule.tests]
    assert "tests/test_rule_catalogue.py" not in {t.split("::")[0] for t in rule.tests}
    if rule.cite:  # a rule outside the policy data: its refusal names no rule, its command does
        command = rule.name.split()[0]
        assert any(command in strings and "exit_code == 3" in body for body, strings in sources), rule.name
        return
    # the test names the rule as the command line shows it: in a refusal's stderr (" — rule, cite")
    # or a finding's "rule" field
    assert any(any(rule.name in s for s in strings) for _, strings in sources), rule.name
    if rule.refused and not rule.note:
        assert any("exit_code == 3" in body or "refused" in body for body, _ in sources), rule.name
    if rule.flagged:
        # report findings, read directly or by tests/test_every_rule.py's flagged()
        assert any("findings" in body or "flagged(" in body for body, _ in sources), rule.name


def _block(readme: str) -> str:
    text = (ROOT / readme).read_text(encoding="utf-8")
    found = re.search(r"<!-- rules -->\n(.*?)<!-- /rules -->", text, re.S)
    assert found is not None, f"{readme} has no rules block"
    return found.group(1)


@pytest.mark.parametrize(("readme", "lang"), [("README.md", "en"), ("README.zh.md", "zh")])
def test_the_readme_table_is_what_policy_rules_prints(readme: str, lang: str) -> None:
    result = CliRunner().invoke(cli, ["--lang", lang, "policy", "rules", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert _block(readme) == result.stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 2 + len(RULES)
    policy = current_policy()
    for rule, line in zip(RULES, lines[2:], strict=True):
        assert line.startswith(f"| {rule.name} | {rule.cites(policy)} | ")
        assert all(f"`{t}`" in line for t in rule.tests)


def test_policy_show_prints_every_rule_with_its_clause_words_mode_and_test() -> None:
    policy = current_policy()
    for lang, refused in (("en", "refused"), ("zh", "拒绝")):
        result = CliRunner().invoke(cli, ["--lang", lang, "policy", "show"])
        assert result.exit_code == 0, result.output
        shown = (
            "\n" + result.stdout.split("\nRules" if lang == "en" else "\n规则 (rules")[-1].split("\n", 1)[1]
        )
        for rule in RULES:
            with speaking(lang):  # a rule's name in the reader's language
                name = label("rule", rule.name)
            assert f"\n{name} — {rule.mode(lang == 'zh')}\n" in shown, rule.name
            for key in rule.clauses:
                clause = policy.clause(key)
                assert f"{clause.cite}: “{clause.words}”" in shown
            for t in rule.tests:
                assert t in shown
        assert refused in shown
