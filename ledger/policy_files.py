"""The policy versions shipped with the package, as their files hold them: the policy module
parses them into ``Policy`` values (``ledger.policy.load_policies``); a reading command that only
names programmes reads them here without loading the policy (``ledger.labels``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

POLICY_FOLDER = Path(__file__).parent / "policy"


@cache
def shipped() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Each shipped version's file name and its TOML data, by file name."""
    import tomllib

    return tuple(
        (path.name, tomllib.loads(path.read_text("utf-8"))) for path in sorted(POLICY_FOLDER.glob("*.toml"))
    )


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a Python string literal too, as ruff writes one


NAMES_MODULE = Path(__file__).parent / "programme_names.py"


def names_module() -> str:
    """The text of ``ledger.programme_names``: each shipped version's date in force and its
    programmes' names, as the files hold them."""
    lines = [
        '"""Each shipped policy version\'s date in force and its programmes\' names (zh, en), by file',
        "name: a reading command names a programme from these without parsing the policy files",
        "(``ledger.labels``). Written by ``python -m ledger.policy_files`` from ``ledger/policy/``;",
        'a test holds it equal to them."""',
        "",
        "from datetime import date",
        "",
        "SHIPPED = {",
    ]
    for name, data in shipped():
        when = data["effective_from"]
        lines.append(f"    {_quoted(name)}: (")
        lines.append(f"        date({when.year}, {when.month}, {when.day}),")
        lines.append("        {")
        for code, p in data.get("programmes", {}).items():
            lines.append(f"            {_quoted(code)}: (")
            lines.append(f"                {_quoted(p['zh'])},")
            lines.append(f"                {_quoted(p['en'])},")
            lines.append("            ),")
        lines.append("        },")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    NAMES_MODULE.write_text(names_module(), "utf-8")
    print(f"wrote {NAMES_MODULE}")
