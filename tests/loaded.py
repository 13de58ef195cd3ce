"""What a command loads: the command line run as a user types it, in a fresh interpreter (so
nothing the suite imported counts), with which of some modules were in ``sys.modules`` after."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

_SCRIPT = """
import json, sys
from commands.cli import cli
code = 0
try:
    cli.main(json.loads(sys.argv[1]))
except SystemExit as e:
    code = e.code or 0
print(json.dumps([code, {m: m in sys.modules for m in json.loads(sys.argv[2])}]), file=sys.stderr)
"""


@dataclass(frozen=True)
class Loaded:
    code: object  # the exit code
    stdout: str
    modules: dict[str, bool]  # each module asked about: was it loaded


def loaded_by(args: Sequence[str], modules: Sequence[str]) -> Loaded:
    """``grant-ledger ARGS`` in a fresh interpreter: its exit code, its output, and which of
    ``modules`` it loaded."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(list(args)), json.dumps(list(modules))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stderr.strip(), done
    code, found = json.loads(done.stderr.strip().splitlines()[-1])
    return Loaded(code, done.stdout, found)
