"""A clean first install: the build says nothing but its work (no setuptools warning that a
package, such as the policy TOML folder, is left out of its configuration), and the wheel holds
every module and every policy file, so `grant-ledger policy show` runs from it alone.

The wheel is built by the PEP 517 backend in this environment (no network, no build isolation),
from a copy of the tracked source, so the test leaves no build/ behind in the work tree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ledger", "projections", "commands", "audit")
BUILD = """
import sys
from setuptools import build_meta
hook = getattr(build_meta, sys.argv[1])
print("BUILT", hook(sys.argv[2]))
"""
# the wheel alone: the work tree (on sys.path through the editable install) is taken off the path
RUN_FROM_WHEEL = """
import os
import sys
root, unpacked = sys.argv[1], sys.argv[2]
sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != root]
import commands, ledger, projections, audit
for module in (commands, ledger, projections, audit):
    assert module.__file__.startswith(unpacked), module.__file__
sys.argv = ["grant-ledger", "--lang", "en", "policy", "show"]
from commands.cli import main
main()
"""


def _source_files() -> list[Path]:
    """The package files a wheel must carry: every module and every policy file of the tree."""
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix in (".py", ".toml"):
                found.append(path.relative_to(ROOT))
    return sorted(found)


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    for package in PACKAGES:
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def _build(source: Path, hook: str, out: Path) -> tuple[Path, str]:
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", BUILD, hook, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return out / output.split("BUILT ", 1)[1].split()[0], output


def _assert_quiet(output: str) -> None:
    warnings = sorted(set(re.findall(r"\b\w*(?:Warning|Deprecation)\w*\b", output)))
    assert not warnings, (warnings, output[-3000:])
    assert "absent from the `packages` configuration" not in output


def test_the_wheel_builds_quietly_and_holds_every_module_and_policy_file(
    source_copy: Path, tmp_path: Path
) -> None:
    wheel, output = _build(source_copy, "build_wheel", tmp_path / "dist")
    _assert_quiet(output)
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {path.as_posix() for path in _source_files()}
    assert {"ledger/policy/v1-2023.toml", "audit/verifier/verify.py", "commands/cli.py"} <= expected
    assert expected <= names, sorted(expected - names)
    assert not {name for name in names if name.startswith(("tests/", "bench/"))}
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "grant-ledger = commands.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(unpacked), "GRANT_LEDGER_DB": str(elsewhere / "x.db")}
    done = subprocess.run(
        [sys.executable, "-c", RUN_FROM_WHEEL, os.path.realpath(ROOT), str(unpacked)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("policy version 2023.1 (in force from 2023-03-15)"), done.stdout[:200]
    assert "BANNED" in done.stdout and "003 第九条" in done.stdout
    assert done.stderr == ""


def test_the_editable_install_that_make_demo_runs_builds_quietly(source_copy: Path, tmp_path: Path) -> None:
    wheel, output = _build(source_copy, "build_editable", tmp_path / "dist")
    _assert_quiet(output)
    assert wheel.name.endswith(".whl")
