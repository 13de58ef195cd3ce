"""A clean first install: the build says nothing but its work (no setuptools warning that a
package, such as the policy TOML folder, is left out of its configuration), and the wheel holds
every file of the packages, so `grant-ledger policy show` runs from it alone, outside the tree.

The wheel is built as a person would, by `pip wheel`, here without the network (no build
isolation, no dependencies: the build backend of this environment), from a copy of the tracked
source, so the test leaves no build/ behind in the work tree. The wheel is then installed with
`pip install --target` (its console script included) into a folder outside the tree, and the
`grant-ledger` script run from there."""

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
WHERE = """
import audit, commands, ledger, projections
print(audit.__file__, commands.__file__, ledger.__file__, projections.__file__)
"""


def _quiet_env() -> dict[str, str]:
    """pip and the build as on a fresh machine: no index, no pip configuration of this one, and
    bytecode written (with PYTHONDONTWRITEBYTECODE the build notes that it skips it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    return {**env, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _package_files() -> list[Path]:
    """Every file of the four packages the wheel must carry: those git tracks (a data file added
    without declaring it fails here), or, outside a checkout, every module and policy file."""
    done = subprocess.run(
        ["git", "ls-files", "-z", *PACKAGES], cwd=ROOT, capture_output=True, timeout=30, check=False
    )
    if done.returncode == 0 and done.stdout:
        return sorted(Path(name) for name in done.stdout.decode().split("\0") if name)
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
    for path in _package_files():
        (copy / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, copy / path)
    return copy


def _assert_quiet(output: str) -> None:
    warnings = sorted(set(re.findall(r"\b\w*(?:Warning|Deprecation|warning)\w*\b", output)))
    assert not warnings, (warnings, output[-3000:])
    assert "absent from the `packages` configuration" not in output


def test_pip_builds_a_complete_wheel_quietly_and_its_grant_ledger_shows_the_policy_outside_the_tree(
    source_copy: Path, tmp_path: Path
) -> None:
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
         "-w", str(dist), str(source_copy)],
        capture_output=True, text=True, timeout=300, env=_quiet_env(), cwd=tmp_path,
    )  # fmt: skip
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-3000:]
    _assert_quiet(output)
    (wheel,) = dist.glob("grant_ledger-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {path.as_posix() for path in _package_files()}
    assert {"ledger/policy/v1-2023.toml", "audit/verifier/verify.py", "commands/cli.py"} <= expected
    assert expected <= names, sorted(expected - names)
    assert not {name for name in names if name.startswith(("tests/", "bench/"))}
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "grant-ledger = commands.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()

    installed = tmp_path / "installed"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--target", str(installed),
         str(wheel)],
        capture_output=True, text=True, timeout=300, env=_quiet_env(), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # the installed folder first on the path: the work tree's editable install comes after it
    env = {**_quiet_env(), "PYTHONPATH": str(installed), "GRANT_LEDGER_DB": str(elsewhere / "x.db")}
    where = subprocess.run(
        [sys.executable, "-c", WHERE], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60
    )
    assert where.returncode == 0, where.stderr
    assert all(f.startswith(str(installed)) for f in where.stdout.split()), where.stdout
    shown = subprocess.run(
        [str(installed / "bin" / "grant-ledger"), "--lang", "en", "policy", "show"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("policy version 2023.1 (in force from 2023-03-15)"), shown.stdout[:200]
    assert "BANNED" in shown.stdout and "003 第九条" in shown.stdout
    assert shown.stderr == ""


def test_the_editable_install_that_make_demo_runs_builds_quietly(source_copy: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", BUILD, "build_editable", str(out)],
        cwd=source_copy,
        capture_output=True,
        text=True,
        timeout=120,
        env=_quiet_env(),
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    _assert_quiet(output)
    assert output.split("BUILT ", 1)[1].split()[0].endswith(".whl")
