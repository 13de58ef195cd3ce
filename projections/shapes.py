"""Stored states parsed by their shape: the parsed value and its canonical JSON text in one step.

Events of one class are stored with the same keys in the same order, written by the same encoder
(compact separators, non-ASCII as itself): only the values change. The first state of a shape is
tokenized and a pattern is compiled for it; every later state of that shape is one
``re.fullmatch``, from whose groups come both the value ``json.loads`` would give and the text
``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` would write
(what the audit log hashes, see ``audit/verifier/canonical.py``).

Only values whose stored text is already their canonical text are admitted: strings without
escapes or control characters, typed values ``{"_type_":…,"_data_":…}`` of such strings,
integers, ``true``/``false``/``null`` and lists of such strings. Anything else — an escape,
whitespace, a float, a nested object, a repeated key — is left to the general parser (``None``).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_decode = json.JSONDecoder().decode

_TEXT = r'[^"\\\x00-\x1f]*'  # a JSON string's content that needs no escape, either way
_INT = r"0|-?[1-9][0-9]*"
_LIST = rf'\[(?:"{_TEXT}"(?:,"{_TEXT}")*)?\]'
_TOKEN = re.compile(
    rf'"({_TEXT})":(?:'
    rf'\{{"_type_":"({_TEXT})","_data_":"({_TEXT})"\}}'  # typed value
    rf'|"({_TEXT})"'  # string
    rf"|({_INT})(?=[,}}])"  # integer
    rf"|(true|false|null)"
    rf"|({_LIST}))"
)
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
MAX_SHAPES_PER_TOPIC = 16

# value kinds
TYPED, STRING, INT, LITERAL, LIST = range(5)


@dataclass(frozen=True)
class Shape:
    keys: tuple[str, ...]
    kinds: tuple[int, ...]
    types: tuple[str, ...]  # the "_type_" of typed values ("" for other kinds)
    pattern: re.Pattern[str]
    canonical: str  # str.format template over the pattern's groups, keys in sorted order
    stamp: int  # the group of the "timestamp" key's text (a typed value or a string), or -1

    build: Callable[[tuple[str, ...]], dict[str, Any]]  # the parsed value from the groups
    text: Callable[[tuple[str, ...]], str]  # canonical.format(*groups), without parsing the template

    def parse(self, groups: tuple[str, ...]) -> tuple[dict[str, Any], str]:
        return self.build(groups), self.text(groups)


def learn(state: str) -> Shape | None:
    """The shape of one stored state, or None when it is not one this module handles."""
    if not state.startswith("{") or not state.endswith("}"):
        return None
    keys: list[str] = []
    kinds: list[int] = []
    types: list[str] = []
    at, end = 1, len(state) - 1
    while at < end:
        token = _TOKEN.match(state, at)
        if token is None:
            return None
        key, typed, _data, string, integer, _literal, listed = token.groups()
        keys.append(key)
        if typed is not None:
            kinds.append(TYPED)
            types.append(typed)
        else:
            kind = STRING if string is not None else INT if integer is not None else LITERAL
            kinds.append(LIST if listed is not None else kind)
            types.append("")
        at = token.end()
        if at < end:
            if state[at] != ",":
                return None
            at += 1
    if not keys or len(set(keys)) != len(keys) or at != end:
        return None
    return _compile(tuple(keys), tuple(kinds), tuple(types))


def _compile(keys: tuple[str, ...], kinds: tuple[int, ...], types: tuple[str, ...]) -> Shape:
    parts = []
    for key, kind, typed in zip(keys, kinds, types, strict=True):
        value = {
            TYPED: rf'\{{"_type_":"{re.escape(typed)}","_data_":"({_TEXT})"\}}',
            STRING: rf'"({_TEXT})"',
            INT: rf"({_INT})",
            LITERAL: r"(true|false|null)",
            LIST: rf"({_LIST})",
        }[kind]
        parts.append(re.escape(f'"{key}":') + value)
    pattern = re.compile(r"\{" + ",".join(parts) + r"\}")
    canonical = []
    for n in sorted(range(len(keys)), key=lambda n: keys[n]):
        name = _braces(f'"{keys[n]}":')
        if kinds[n] == TYPED:
            canonical.append(f'{name}{{{{"_data_":"{{{n}}}","_type_":"{_braces(types[n])}"}}}}')
        elif kinds[n] == STRING:
            canonical.append(f'{name}"{{{n}}}"')
        else:
            canonical.append(f"{name}{{{n}}}")
    stamp = keys.index("timestamp") if "timestamp" in keys else -1
    if stamp >= 0 and kinds[stamp] not in (TYPED, STRING):
        stamp = -1
    template = "{{" + ",".join(canonical) + "}}"
    return Shape(
        keys, kinds, types, pattern, template, stamp, _builder(keys, kinds, types), _writer(template)
    )


def _builder(
    keys: tuple[str, ...], kinds: tuple[int, ...], types: tuple[str, ...]
) -> Callable[[tuple[str, ...]], dict[str, Any]]:
    """A function building the parsed value as one dict display: a loop over the keys per state
    costs more than the regex match. Keys and type names enter the source only through repr()."""
    items = []
    for n, (key, kind, typed) in enumerate(zip(keys, kinds, types, strict=True)):
        value = {
            STRING: f"g[{n}]",
            TYPED: f'{{"_type_": {typed!r}, "_data_": g[{n}]}}',
            INT: f"int(g[{n}])",
            LITERAL: f"literals[g[{n}]]",
            LIST: f"parse_list(g[{n}])",
        }[kind]
        items.append(f"{key!r}: {value}")
    source = "lambda g: {" + ", ".join(items) + "}"
    build: Callable[[tuple[str, ...]], dict[str, Any]] = eval(
        source, {"__builtins__": {"int": int}, "literals": _LITERALS, "parse_list": _parse_list}
    )
    return build


def _writer(template: str) -> Callable[[tuple[str, ...]], str]:
    """``lambda g: template.format(*g)`` as one concatenation: ``str.format`` parses its template
    on every call. The template's literal text enters the source only through repr()."""
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        if literal:
            parts.append(repr(literal))
        if field is not None:
            parts.append(f"g[{int(field)}]")
    source = "lambda g: " + (" + ".join(parts) or "''")
    write: Callable[[tuple[str, ...]], str] = eval(source, {"__builtins__": {}})
    return write


def _parse_list(text: str) -> list[Any]:
    return [] if text == "[]" else list(_decode(text))


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


class ShapeCache:
    """Shapes learnt so far, per topic; ``parse`` returns None for states left to json."""

    def __init__(self) -> None:
        self.shapes: dict[str, list[Shape]] = {}

    def parse(self, topic: str, state: str) -> tuple[dict[str, Any], str] | None:
        known = self.shapes.get(topic)
        if known is not None:
            for shape in known:
                match = shape.pattern.fullmatch(state)
                if match is not None:
                    return shape.parse(match.groups())
        return self._learn(topic, state, known)

    def match(self, topic: str, state: str) -> tuple[Shape, tuple[str, ...]] | None:
        """The state's shape and the groups of its match (None: left to json), learning the
        shape of a state of a new one; the topic's last matched shape is tried first."""
        known = self.shapes.get(topic)
        if known is not None:
            for at, shape in enumerate(known):
                found = shape.pattern.fullmatch(state)
                if found is not None:
                    if at:  # most events of a topic have one shape: keep the latest in front
                        known.insert(0, known.pop(at))
                    return shape, found.groups()
        if self._learn(topic, state, known) is None:
            return None
        shape = self.shapes[topic][-1]
        found = shape.pattern.fullmatch(state)
        return None if found is None else (shape, found.groups())

    def stamped(self, topic: str, state: str) -> tuple[str, str] | None:
        """The state's canonical text and its "timestamp" text (the ``_data_`` of a typed value),
        without building the parsed value; None for states of no known shape or without one."""
        known = self.shapes.get(topic)
        if known is not None:
            for shape in known:
                match = shape.pattern.fullmatch(state)
                if match is not None:
                    if shape.stamp < 0:
                        return None
                    groups = match.groups()
                    return shape.text(groups), groups[shape.stamp]
        self._learn(topic, state, known)
        return None

    def _learn(self, topic: str, state: str, known: list[Shape] | None) -> tuple[dict[str, Any], str] | None:
        if known is None:
            known = self.shapes[topic] = []
        if len(known) >= MAX_SHAPES_PER_TOPIC:
            return None
        learnt = learn(state)
        if learnt is None:
            return None
        match = learnt.pattern.fullmatch(state)
        if match is None:  # pragma: no cover - a learnt shape matches the state it came from
            return None
        known.append(learnt)
        return learnt.parse(match.groups())
