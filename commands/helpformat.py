"""Help laid out by the columns a terminal shows: a Chinese character takes two, and Chinese
text has no spaces to break at. click measures text in characters and breaks only at spaces, so
a Chinese paragraph came out twice the width asked for, and a short help had no first sentence
to cut at (it became "...").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import click

from ledger.i18n import current

# one breakable piece: spaces, one wide character with the punctuation that must stay after it,
# or a run of anything else (an option name, a code, a number)
_WIDE = "\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f"
_OPEN = "（「『《〔【\\[("
_CLOSE = "，。；：、）」』》〕】！？\\]),.;:"
# (compiled when help is read, not at every start)
_PIECE = rf"\s+|[{_OPEN}]*[^\s{_WIDE}]+[{_CLOSE}]*|[{_OPEN}]*[{_WIDE}][{_CLOSE}]*"
SHORT_HELP_COLUMNS = 50


def columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _wide(piece: str) -> bool:
    return bool(piece) and unicodedata.east_asian_width(piece[0]) in "WF"


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """One paragraph broken into lines of at most ``width`` columns (a longer code stays whole)."""
    lines: list[str] = []
    line, gap = "", ""
    previous = ""
    for piece in re.findall(_PIECE, text):
        if piece.isspace():
            # a line break between two Chinese characters joins them; a space stays a space
            gap = " " if ("\n" not in piece or not _wide(previous[-1:])) else "\n"
            continue
        space = "" if not line or (gap == "\n" and _wide(piece)) or (not gap) else " "
        if line and columns(indent + line + space + piece) > width:
            lines.append(indent + line)
            line = piece
        else:
            line += space + piece
        gap, previous = "", piece
    if line:
        lines.append(indent + line)
    return lines


def wrap_text(text: str, width: int, indent: str = "") -> str:
    """click's ``wrap_text`` with paragraphs preserved (a ``\\b`` paragraph is kept as written),
    by columns."""
    out = []
    for paragraph in re.split(r"\n\s*\n", text.expandtabs()):
        lines = paragraph.split("\n")
        if lines[0].strip() == "\b":
            out.append("\n".join(indent + line for line in lines[1:]))
        else:
            own = len(lines[0]) - len(lines[0].lstrip())
            out.append("\n".join(wrap(paragraph.strip(), width, indent + " " * own)))
    return "\n\n".join(out)


def short_help(help_text: str) -> str:
    """The first sentence of a Chinese help (to 。), cut to fit a command list."""
    first = re.split(r"\n\s*\n", help_text.strip(), maxsplit=1)[0].replace("\b", "").strip()
    first = re.sub(r"\s*\n\s*", "", first)
    sentence = re.split(r"(?<=[。！？])", first, maxsplit=1)[0]
    sentence = sentence[:-1] if sentence.endswith("。") else sentence
    if columns(sentence) <= SHORT_HELP_COLUMNS:
        return sentence
    cut = ""
    for c in sentence:
        if columns(cut + c) > SHORT_HELP_COLUMNS - 2:
            break
        cut += c
    return cut.rstrip("，、；：（ ") + "…"


class Formatter(click.HelpFormatter):
    """click's help formatter, wrapping text and definition lists by columns."""

    def write_text(self, text: str) -> None:
        if current() != "zh":
            return super().write_text(text)
        indent = " " * self.current_indent
        self.write(wrap_text(text, self.width, indent))
        self.write("\n")

    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        if current() != "zh":
            return super().write_dl(rows, col_max, col_spacing)
        rows = list(rows)
        first_col = min(max((columns(r[0]) for r in rows), default=0), col_max) + col_spacing
        for first, second in rows:
            self.write(f"{'':>{self.current_indent}}{first}")
            if not second:
                self.write("\n")
                continue
            if columns(first) <= first_col - col_spacing:
                self.write(" " * (first_col - columns(first)))
            else:
                self.write("\n" + " " * (first_col + self.current_indent))
            lines = wrap_text(second, max(self.width - first_col - 2 - self.current_indent, 10)).splitlines()
            self.write(f"{lines[0] if lines else ''}\n")
            for line in lines[1:]:
                self.write(f"{'':>{first_col + self.current_indent}}{line}\n")


class Context(click.Context):
    formatter_class = Formatter
