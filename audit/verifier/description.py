"""bundle.json, what the bundle says of itself, held to what the rest of the bundle proves.

Every field is checked; a field the verifier cannot check is not written (the export time was,
and is no longer: the signed checkpoints carry the times that count). What it cannot prove:
events withheld by ``--as-of`` are seen only as leaf hashes, so their dates are unknown.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audit.verifier import layout
from audit.verifier.i18n import _
from audit.verifier.replay import Replay
from audit.verifier.report import Report, read_text

NAME = "bundle.json"
# withheld_aggregates is held to the withheld leaves by audit/verifier/verify.py
FIELDS = (
    "format",
    "origin",
    "tree_size",
    "grant",
    "as_of",
    "policy",
    "event_log_sheets",
    "withheld_aggregates",
)


def check_description(
    directory: Path,
    report: Report,
    replay: Replay,
    origin: str | None,
    policy: str | None,
    log_sheets: list[str],
) -> None:
    path = directory / NAME
    if not path.is_file():
        report.fail(f"{NAME}: missing")
        return
    raw = read_text(path, NAME, report)
    try:
        meta: Any = json.loads(raw or "")
    except (ValueError, RecursionError):
        report.fail(_("{file}: not JSON").format(file=NAME))
        return
    if isinstance(meta, dict) and meta.get("format") not in layout.FORMATS:
        known = ", ".join(map(str, layout.FORMATS))
        report.fail(
            _(
                "{file}: format {format!r} is another version's; this verifier reads bundles of format "
                "{known} (export the bundle again)"
            ).format(file=NAME, format=meta.get("format"), known=known)
        )
        return
    if not isinstance(meta, dict) or sorted(meta) != sorted(FIELDS):
        keys = sorted(meta) if isinstance(meta, dict) else []
        report.fail(
            _("{file}: its fields are {fields}, not {expected}").format(
                file=NAME, fields=", ".join(keys) or "-", expected=", ".join(FIELDS)
            )
        )
        return
    expected = {
        "origin": origin,
        "tree_size": report.events,
        "policy": policy,
        "event_log_sheets": log_sheets,
    }
    for key, want in expected.items():
        if want is not None and meta[key] != want:
            report.fail(
                _("{file}: {key} is {value!r} but the bundle has {want!r}").format(
                    file=NAME, key=key, value=meta[key], want=want
                )
            )
    grant, as_of = meta["grant"], meta["as_of"]
    if grant is not None and not isinstance(grant, str):
        report.fail(_("{file}: grant is {grant!r}, not a grant id").format(file=NAME, grant=grant))
    elif grant is not None:
        others = sorted({g.grant_id for g in replay.grants.values()} - {grant})
        if others or replay.foreign:
            shown = others or sorted(replay.foreign)[:1]
            report.fail(
                _("{file}: grant is {grant!r} but the bundle includes events of {others}").format(
                    file=NAME, grant=grant, others=", ".join(shown)
                )
            )
    if as_of is not None:
        if not isinstance(as_of, str) or (replay.latest and replay.latest > as_of):
            report.fail(
                _("{file}: as_of is {as_of!r} but the bundle includes an event dated {latest}").format(
                    file=NAME, as_of=as_of, latest=replay.latest
                )
            )
    if grant is None and as_of is None and report.withheld:
        report.fail(
            _("{file}: names no filter (grant, as_of) but {count} events are withheld").format(
                file=NAME, count=report.withheld
            )
        )


def bundle_format(directory: Path) -> int:
    """The layout the bundle says its workbook has (one of layout.FORMATS); the current one if it says
    nothing readable (check_description then fails it). The workbook is checked as that format
    lays it out: saying 2 of a format 3 workbook fails its cells, not passes them."""
    try:
        meta = json.loads((directory / NAME).read_bytes())
    except (OSError, ValueError, RecursionError):
        return layout.FORMAT
    fmt = meta.get("format") if isinstance(meta, dict) else None
    return fmt if isinstance(fmt, int) and fmt in layout.FORMATS else layout.FORMAT
