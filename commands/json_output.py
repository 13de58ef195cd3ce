"""Rows as JSON: what every JSON the command line writes is (``json.dumps(…, ensure_ascii=False,
indent=2)``'s text, laid out faster). Apart from ``commands.output``, so that a table or a csv
does not load ``json``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from commands.output import json_value

# a record of plain values at the list's first level, as ``indent=2`` lays it out, but by the C
# encoder: ``indent`` makes json use its pure-Python one, 8 s for 200,000 balances
_RECORD = json.JSONEncoder(ensure_ascii=False, separators=(",\n    ", ": ")).encode
# a list of such records in one call, each separator a NUL (which no JSON text holds unescaped)
_RECORDS = json.JSONEncoder(ensure_ascii=False, separators=("\0", ": ")).encode
_PLAIN = (str, int, float, bool, type(None))
CHUNK = 10_000  # records converted and encoded at a time: what is held besides the text


def to_json(records: Sequence[dict[str, Any]]) -> str:
    """The records as ``json.dumps(…, ensure_ascii=False, indent=2)`` writes them."""
    if not records:
        return "[]"
    parts = []
    for at in range(0, len(records), CHUNK):
        converted = [{k: json_value(v) for k, v in r.items()} for r in records[at : at + CHUNK]]
        if all(record and all(type(v) in _PLAIN for v in record.values()) for record in converted):
            # a record's values are plain, so "}\0{" is only ever between two records
            text = _RECORDS(converted).replace("}\0{", "\n  },\n  {\n    ").replace("\0", ",\n    ")
            parts.append("{\n    " + text[2:-2] + "\n  }")
        else:
            parts.extend(_record_text(record) for record in converted)
    return "[\n  " + ",\n  ".join(parts) + "\n]"


def json_token(value: Any) -> str:
    """``value`` (a plain value or an amount) as ``to_json`` writes it in a record."""
    return str(_RECORD(json_value(value)))


# a text as ``to_json`` writes it (the C function ``_RECORD`` calls for a str; faster called alone)
json_text: Callable[[str], str] = json.encoder.encode_basestring


def json_record_template(keys: Sequence[str]) -> str:
    """A %-template of one record of ``keys`` as it stands in ``to_json``'s list, a ``%s`` for each
    value given as ``json_token`` makes it: a large report's records laid out without a dict each."""
    return "{\n    " + ",\n    ".join(_RECORD(k).replace("%", "%%") + ": %s" for k in keys) + "\n  }"


def json_list(records: Sequence[str]) -> list[str]:
    """What ``to_json`` writes, in pieces to be written one after another, for records laid out
    by ``json_record_template`` (each item of ``records`` may be several, joined by ``RECORD_SEP``)."""
    if not records:
        return ["[]"]
    pieces = ["[\n  "]
    for text in records:
        pieces += [text, RECORD_SEP]
    pieces[-1] = "\n]"
    return pieces


RECORD_SEP = ",\n  "  # between two records in to_json's list


def json_record_sql(keys: Sequence[str], values: Sequence[tuple[str, str]]) -> str:
    """One record of ``keys`` as ``json_record_template`` lays it out, as an SQLite expression
    (SQLite's printf lays a large report out in C): ``values`` holds each key's kind and SQL
    expression: "text" (a text or NULL: SQLite's json_quote escapes as ``json_text`` does), "fen"
    (whole fen, never NULL, written as ``json_token`` writes its amount in yuan) or "fen or null"."""
    parts = json_record_template(keys).split("%s")
    assert len(parts) == len(keys) + 1 and len(values) == len(keys)
    yuan, spec = '"%s%d.%02d"', parts[0]
    args: list[str] = []
    for (kind, expr), after in zip(values, parts[1:], strict=True):
        figures = [_sign_sql(expr), f"abs({expr}) / 100", f"abs({expr}) % 100"]
        if kind == "text":
            spec, args = spec + "%s", [*args, f"json_quote({expr})"]
        elif kind == "fen":  # in the record's own printf: a printf of its own each took twice as long
            spec, args = spec + yuan, [*args, *figures]
        elif kind == "fen or null":
            laid = f"printf({_sql_literal(yuan)}, {', '.join(figures)})"
            spec, args = spec + "%s", [*args, f"(CASE WHEN ({expr}) IS NULL THEN 'null' ELSE {laid} END)"]
        else:
            raise ValueError(f"kind {kind!r}: use text, fen or fen or null")
        spec += after
    return "printf(" + ", ".join([_sql_literal(spec), *args]) + ")"


def _sign_sql(expr: str) -> str:
    return f"(CASE WHEN ({expr}) < 0 THEN '-' ELSE '' END)"


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _record_text(record: dict[str, Any]) -> str:
    """One record as it stands in ``to_json``'s list (indented under it)."""
    if not record:
        return "{}"
    if all(isinstance(v, _PLAIN) for v in record.values()):
        return "{\n    " + _RECORD(record)[1:-1] + "\n  }"
    return json.dumps(record, ensure_ascii=False, indent=2).replace("\n", "\n  ")
