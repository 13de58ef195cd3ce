"""What an officer sees of an import workbook's first sheet, against what its cells hold.

The import reads cells' values, and an officer signs the rows they reviewed on screen. Where the
two can differ in ways a workbook keeps, in the columns the header names for the import (a finance
system's own columns beside them are not read, so not judged), the file is refused in one
sentence naming the sheet or cell: a hidden first sheet or one the workbook does not open on; a
value in a hidden row or column (or one too low or narrow to read, or in a sheet whose rows or
columns are so by default),
under another cell of a merge, or in type too small or too faint on its fill (or the sheet's white)
to read, the cell's font or a rich-text run's; a formula (its value is the result Excel
last saved); a number or date whose format shows other digits or words than its own, fewer
decimals than it holds, or a scale (%, an exponent, thousands not said by their unit or dropping
digits); a date without its year, month or day; a conditional format that changes
how numbers look or hides them; a cell Excel is told to ignore; rows out of order. The sheet is
not rendered: what is not listed here (a picture or a shape laid over a cell) is not judged.
Found with lxml reading the sheet's XML by namespace and openpyxl's parsed cells and styles, as
openpyxl reads them for the import.
"""

from __future__ import annotations

import functools
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from commands.i18n import N_, _
from ledger.errors import BadInputError
from ledger.text import WHITE_SPACE

ROW_SEEN = 3.0  # points: a row lower than this shows nothing an officer can read
COLUMN_SEEN = 1.0  # characters: likewise a column narrower
TYPE_SEEN = 4.0  # points: type smaller than this
MERGES_BY_ROW = 1000  # a merge over more rows than this is kept whole, not row by row
WHITE_RGB = (1.0, 1.0, 1.0)
BLACK = (0.0, 0.0, 0.0)
CONTRAST_SEEN = 1.3  # type below this contrast with its background is not read (FEFEFE, F2F2F2 on white)
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
X14 = "http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"

HIDDEN_ROW = N_("a hidden row")
HIDDEN_COLUMN = N_("a hidden column")
MERGED = N_("a merged cell's, under the cell it shows")
UNSEEN_TYPE = N_("white or tiny type")


class Unseen:
    """A sheet's rows, columns and merged cells an officer does not see; as the rows are read
    (``look``), the first cell found holding a formula, a value not seen, or a number shown as
    something else ("" while none is)."""

    def __init__(self, book: Any) -> None:
        self.book = book
        self.rows: set[int] = set()
        self.columns: set[int] = set()
        self.columns_hidden = False  # every column not named visible is hidden (defaultColWidth)
        self.visible_columns: set[int] = set()
        self.covered: dict[int, list[tuple[int, int]]] = {}  # by row: columns under a merge
        self.wide_merges: list[tuple[int, int, int, int]] = []
        self.formula = ""
        self.error = ""  # the first cell holding an Excel error value, and the error
        self.hidden = ""
        self.why = ""
        self.disguised = ""
        self._styles: dict[int, tuple[str, bool]] = {}  # by style: its number format, unseen type
        self._shown: dict[tuple[Any, ...], bool] = {}
        self.read: set[int] | None = None  # the columns the header names (None: before it)
        self.runs: dict[int, list[Any]] = {}  # shared strings with runs of their own font, by index
        self.faint_runs: set[tuple[int, int]] = set()  # cells of rich text with a run not read
        self._zero: bool | None = None  # whether the default style is plain (``_default_plain``)

    def look(self, row: list[dict[str, Any]]) -> None:
        if not row:
            return
        number = row[0]["row"]
        # most rows: shown, of unstyled cells, in no merge: only a formula to look for
        plain = not (
            number in self.rows
            or self.columns
            or self.columns_hidden
            or number in self.covered
            or self.wide_merges
        )
        if number == 1:  # the header: the columns it names are those the import reads
            self.read = {cell["column"] for cell in row if _field(cell["value"])}
        read = self.read
        for cell in row:
            if read is not None and cell["column"] not in read:
                continue  # a finance system's own column, which the import does not read
            if cell["data_type"] == "f":
                self.formula = self.formula or _cell_name(cell)
                continue
            if cell["data_type"] == "e":
                self.error = self.error or f"{_cell_name(cell)} ({cell['value']})"
                continue
            value = cell["value"]
            faint = bool(self.faint_runs) and (number, cell["column"]) in self.faint_runs
            zero = self._default_plain()
            if value is None or (plain and not cell["style_id"] and zero and not faint):
                continue
            if isinstance(value, str) and value.strip(WHITE_SPACE) == "":
                continue
            why = None if plain else self._not_seen(number, cell["column"])
            styled = cell["style_id"] or not zero  # the default style (0) judged when it is not plain
            code, tiny = self._style(cell["style_id"] or 0) if styled else ("General", False)
            if why is None and (tiny or faint):
                why = UNSEEN_TYPE
            if why is not None:
                if not self.hidden:
                    self.hidden, self.why = _cell_name(cell), why
            elif cell["data_type"] in ("n", "d", "s") and not self._shows(code, value):
                self.disguised = self.disguised or _cell_name(cell)

    def _default_plain(self) -> bool:
        """Whether the workbook's default style (0, a cell naming none) shows numbers as they are
        in type that can be read: a workbook whose default is scaled or white had been read
        unjudged in every cell naming no style."""
        if self._zero is None:
            self._zero = self._style(0) == ("General", False)
        return self._zero

    def _shows(self, code: str, value: Any) -> bool:
        """``shows``, remembered by what decides it where no condition reads the value itself: the
        format, and the value's kind, sign and decimals."""
        if code == "General":
            return True
        if ("[" in code and _CONDITIONED.search(code)) or ("," in code and _SCALE.search(code)):
            return shows(code, value)
        if isinstance(value, str):
            key: tuple[Any, ...] = (code, "text")
        elif isinstance(value, datetime | date):
            key = (code, "date")
        elif isinstance(value, int | float) and value == value and abs(value) != float("inf"):
            key = (code, (value > 0) - (value < 0), _decimals(_as_shown(value)))
        else:
            return shows(code, value)
        known = self._shown.get(key)
        if known is None:
            known = self._shown[key] = shows(code, value)
        return known

    def _not_seen(self, row: int, column: int) -> str | None:
        if row in self.rows:
            return HIDDEN_ROW
        if column in self.columns or (self.columns_hidden and column not in self.visible_columns):
            return HIDDEN_COLUMN
        if any(low <= column <= high for low, high in self.covered.get(row, ())):
            return MERGED
        for top, left, bottom, right in self.wide_merges:
            if top <= row <= bottom and left <= column <= right and (row, column) != (top, left):
                return MERGED
        return None

    def _style(self, style: int) -> tuple[str, bool]:
        known = self._styles.get(style)
        if known is None:
            known = self._styles[style] = (_number_format(self.book, style), _unseen_type(self.book, style))
        return known

    def merge(self, top: int, left: int, bottom: int, right: int) -> None:
        if bottom - top > MERGES_BY_ROW:
            self.wide_merges.append((top, left, bottom, right))
            return
        for row in range(top, bottom + 1):
            low = left + 1 if row == top else left  # the merge shows its top left cell
            if low <= right:
                self.covered.setdefault(row, []).append((low, right))


def refusal(path: Path, unseen: Unseen) -> str | None:
    """The sentence refusing the rows read so far, if they hold what an officer does not see."""
    if unseen.formula:
        return _(
            "{file}: cell {cell} holds a formula; import reads values as typed, not a formula's "
            "result as Excel last saved it: paste the sheet as values first"
        ).format(file=path.name, cell=unseen.formula)
    if unseen.error:
        return _(
            "{file}: cell {cell} holds an Excel error value, not a value an officer typed: correct the "
            "cell, or type the text with an apostrophe in front if it is meant as text"
        ).format(file=path.name, cell=unseen.error)
    if unseen.hidden:
        return _(
            "{file}: cell {cell} holds a value an officer does not see ({why}); import reads only what "
            "the sheet shows: show it, or delete it"
        ).format(file=path.name, cell=unseen.hidden, why=_(unseen.why))
    if unseen.disguised:
        return _(
            "{file}: cell {cell} holds a value its format shows otherwise (other digits or words, fewer "
            "decimals, a scale, or nothing); import reads only what an officer sees: give the cell a "
            "plain number format"
        ).format(file=path.name, cell=unseen.disguised)
    return None


def _field(name: Any) -> bool:
    """Whether a header cell names a column of the import format (as ``read_rows`` reads it)."""
    from ledger.import_format import EXPORTED, column_named

    return column_named(name) in EXPORTED


def _cell_name(cell: dict[str, Any]) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(cell['column'])}{cell['row']}"


def _number_format(book: Any, style: int) -> str:
    """The number format of a cell's style, as openpyxl's read-only cell finds it."""
    from openpyxl.styles.numbers import BUILTIN_FORMATS, BUILTIN_FORMATS_MAX_SIZE

    try:
        number = book._cell_styles[style].numFmtId
        if number < BUILTIN_FORMATS_MAX_SIZE:
            return str(BUILTIN_FORMATS.get(number, "General"))
        return str(book._number_formats[number - BUILTIN_FORMATS_MAX_SIZE])
    except (IndexError, AttributeError, TypeError):
        return "General"


def _unseen_type(book: Any, style: int) -> bool:
    """Whether the style's type is too small to read, or of a colour too close to its background
    (its fill, or the sheet's white) to be read: white on white, FEFEFE, yellow on yellow."""
    try:
        xf = book._cell_styles[style]
        font = book._fonts[xf.fontId]
        fill = book._fills[xf.fillId]
    except (IndexError, AttributeError, TypeError):
        return False
    if font.sz is not None and float(font.sz) < TYPE_SEEN:
        return True
    text = _colour(book, font.color, BLACK)
    return all(_faint(text, background) for background in _backgrounds(book, fill))


def _backgrounds(book: Any, fill: Any) -> list[tuple[float, float, float]]:
    """What type is read against: a solid fill's colour; a pattern's two colours, or a gradient's
    stops (type faint on all of them is not read: a dark grey pattern of black on black had
    passed as white); else the sheet's white."""
    stops = getattr(fill, "stop", None)
    if stops:
        return [_colour(book, getattr(stop, "color", None), WHITE_RGB) for stop in stops]
    kind = getattr(fill, "fill_type", None)
    if kind == "solid":
        return [_colour(book, getattr(fill, "fgColor", None), BLACK)]
    if kind not in (None, "none"):
        return [_colour(book, getattr(fill, name, None), WHITE_RGB) for name in ("fgColor", "bgColor")]
    return [WHITE_RGB]


def _faint(text: tuple[float, float, float], background: tuple[float, float, float]) -> bool:
    """Whether type of colour ``text`` cannot be read on ``background``: their contrast ratio
    (WCAG 2's, 1 for the same colour, 21 for black on white) below ``CONTRAST_SEEN``."""
    lighter, darker = sorted((_luminance(text), _luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05) < CONTRAST_SEEN


def _luminance(rgb: tuple[float, float, float]) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _colour(book: Any, color: Any, default: tuple[float, float, float]) -> tuple[float, float, float]:
    """An openpyxl colour (or a run's ``color`` element) as red, green and blue from 0 to 1: by its
    RGB, its index in the legacy palette, or its theme colour lightened or darkened by its tint, as
    Excel shows it; ``default`` for an automatic colour or one that cannot be read."""
    if color is None:
        return default
    get = color.get if hasattr(color, "get") and not hasattr(color, "type") else None
    try:
        if get is not None:  # an XML element: <color rgb=… | theme=… tint=… | indexed=… | auto=…/>
            rgb, theme, indexed = get("rgb"), get("theme"), get("indexed")
            tint = float(get("tint") or 0)
        else:
            kind = getattr(color, "type", None)
            rgb = color.rgb if kind == "rgb" else None
            theme = color.theme if kind == "theme" else None
            indexed = color.indexed if kind == "indexed" else None
            tint = float(getattr(color, "tint", 0) or 0)
        if rgb is not None:
            found = _hex(str(rgb))
        elif indexed is not None:
            from openpyxl.styles.colors import COLOR_INDEX

            index = int(indexed)
            found = BLACK if index == 64 else WHITE_RGB if index == 65 else _hex(COLOR_INDEX[index])
        elif theme is not None:
            found = _theme_colours(book)[int(theme)]
        else:
            return default
    except (IndexError, ValueError, TypeError, AttributeError):
        return default
    return _tinted(found, tint) if tint else found


def _hex(argb: str) -> tuple[float, float, float]:
    digits = argb.strip()[-6:]
    return (int(digits[0:2], 16) / 255, int(digits[2:4], 16) / 255, int(digits[4:6], 16) / 255)


def _tinted(rgb: tuple[float, float, float], tint: float) -> tuple[float, float, float]:
    """A theme colour lightened (tint > 0) or darkened (< 0) as Excel does, on its lightness."""
    import colorsys

    hue, light, saturation = colorsys.rgb_to_hls(*rgb)
    light = light * (1 + tint) if tint < 0 else light * (1 - tint) + tint
    return colorsys.hls_to_rgb(hue, min(max(light, 0.0), 1.0), saturation)


# Office's default theme (lt1, dk1, lt2, dk2, accent 1–6, links), by Excel's theme index
_OFFICE_THEME = ("FFFFFF", "000000", "E7E6E6", "44546A", "4472C4", "ED7D31", "A5A5A5", "FFC000",
                 "5B9BD5", "70AD47", "0563C1", "954F72")  # fmt: skip
_THEME_ORDER = ("lt1", "dk1", "lt2", "dk2", "accent1", "accent2", "accent3", "accent4", "accent5",
                "accent6", "hlink", "folHlink")  # fmt: skip


def _theme_colours(book: Any) -> list[tuple[float, float, float]]:
    """The workbook's theme colours by Excel's theme index (its own theme part, or Office's)."""
    known = getattr(book, "_grant_ledger_theme", None)
    if known is not None:
        return list(known)
    from lxml import etree

    colours = [_hex(c) for c in _OFFICE_THEME]
    try:
        drawing = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
        root = etree.fromstring(book.loaded_theme, etree.XMLParser(resolve_entities=False, no_network=True))
        scheme = root.find(f".//{drawing}clrScheme")
        for n, name in enumerate(_THEME_ORDER):
            slot = scheme.find(f"{drawing}{name}") if scheme is not None else None
            value = None if slot is None or len(slot) == 0 else (slot[0].get("lastClr") or slot[0].get("val"))
            if value and len(value) == 6:
                colours[n] = _hex(value)
    except (etree.Error, ValueError, TypeError, AttributeError):
        pass  # a theme that cannot be read: Office's colours
    try:
        book._grant_ledger_theme = colours
    except AttributeError:
        pass
    return colours


def _runs_unseen(book: Any, runs: list[Any], style: int | None) -> bool:
    """Whether a rich-text cell holds a run of text, with a font of its own (``rPr``), too small
    or too faint on the cell's background to be read."""
    try:
        fill = book._fills[book._cell_styles[style].fillId] if style else None
    except (IndexError, AttributeError, TypeError):
        fill = None
    backgrounds = _backgrounds(book, fill) if fill is not None else [WHITE_RGB]
    for size, colour in runs:
        if size is not None and size < TYPE_SEEN:
            return True
        text = _colour(book, colour, BLACK)
        if colour is not None and all(_faint(text, background) for background in backgrounds):
            return True
    return False


def _run_fonts(si: Any) -> list[Any]:
    """The fonts of a rich text's runs that have text and a font of their own: (size, colour
    element) each, None where the run keeps the cell's."""
    found = []
    for run in si.iter(f"{{{SHEET_NS}}}r"):
        text = "".join(run.itertext())
        properties = run.find(f"{{{SHEET_NS}}}rPr")
        if properties is None or not text.strip(WHITE_SPACE):
            continue
        size = properties.find(f"{{{SHEET_NS}}}sz")
        try:
            points = float(size.get("val")) if size is not None else None
        except (TypeError, ValueError):
            points = 0.0  # a size that is not a number: as good as none
        found.append((points, properties.find(f"{{{SHEET_NS}}}color")))
    return found


def shared_runs(path: Path) -> dict[int, list[Any]]:
    """The workbook's shared strings written as rich text with a font of their own in some run,
    by their index: judged where the first sheet names them (``sheet_seen``), against each cell's
    own fill. (By their text, a plain cell had been refused for a rich one elsewhere, and a
    phonetic guide's text had kept a white run from being found.)"""
    from lxml import etree

    found: dict[int, list[Any]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.lower() == "xl/sharedstrings.xml"), None)
            if name is None:
                return found
            with archive.open(name) as stream:
                strings = etree.iterparse(
                    stream, events=("end",), tag=f"{{{SHEET_NS}}}si", resolve_entities=False
                )
                for index, (_event, si) in enumerate(strings):
                    if si.find(f"{{{SHEET_NS}}}r") is not None:
                        runs = _run_fonts(si)
                        if runs:
                            found[index] = runs
                    si.clear()
    except (etree.Error, OSError, KeyError, zipfile.BadZipFile):
        return found
    return found


# A section's quoted text, escaped character, or _x (a space as wide as x) and *x (x repeated)
_TEXT = re.compile(r'"[^"]*"|[\\!].|[_*].')
_BRACKET = re.compile(r"\[([^\]]*)\]")
_CONDITION = re.compile(r"^(<=|>=|<>|<|>|=)\s*(-?[0-9.]+)$")
_NUMERALS = re.compile(r"[0-9０-９〇一二三四五六七八九零壹贰叁肆伍陆柒捌玖]")  # not 十百千万: units as often
# quoted text that reads as a number of its own (500, 5,000.00, 伍佰, 五百), not a unit (m2, 千元)
_NUMBER_LIKE = re.compile(r"[\s,.+\-¥￥$0-9０-９〇一二三四五六七八九零壹贰叁肆伍陆柒捌玖十百千万亿拾佰仟]*")
_ZERO = re.compile(r"[\s\-—–0０〇零.]*")


def _number_like(text: str) -> bool:
    """Whether a format's text reads as a number of its own: numerals (one at least) and what
    numbers are written with, nothing else (500, 5,000.00, 伍佰; not ¥, -, m2 or 千元)."""
    return bool(_NUMERALS.search(text)) and _NUMBER_LIKE.fullmatch(text) is not None


def _literal(text: str) -> str:
    """A format's quoted text or escaped character, as it shows."""
    return text[1:-1] if text.startswith('"') else text[1:] if text[:1] in ("\\", "!", "_", "*") else text


def _shown_text(text: str) -> bool:
    """Whether a format's literal shows as text (quoted, or escaped by a backslash or !): ``_x``
    is a blank as wide as x, and ``*x`` x repeated to fill the cell."""
    return text[:1] in ('"', "\\", "!")


_CONDITIONED = re.compile(r"\[\s*[<>=]")
_GENERAL = re.compile(r"general|g/通用格式", re.IGNORECASE)
_DATE_TOKENS = re.compile(r"[ymdhse]", re.IGNORECASE)


_NAMED = {"black": "000000", "white": "FFFFFF", "red": "FF0000", "green": "00FF00", "blue": "0000FF",
          "yellow": "FFFF00", "magenta": "FF00FF", "cyan": "00FFFF"}  # fmt: skip


@functools.cache
def _faint_named(name: str) -> bool:
    """Whether a format's colour (``[Yellow]``, ``[Color19]``, 红色's ``[Red]``) is too faint on
    the sheet's white to read (WCAG's ratio below ``CONTRAST_SEEN``): only white had been judged."""
    from openpyxl.styles.colors import COLOR_INDEX

    named = _NAMED.get(name)
    if named is None and name.startswith("color") and name[5:].isdigit() and 1 <= int(name[5:]) <= 56:
        named = COLOR_INDEX[int(name[5:]) + 7][-6:]  # [Color1] is the palette's black, at index 8
    return named is not None and _faint(_hex(named), WHITE_RGB)


def _sections(code: str) -> list[str]:
    """A format's sections, split at the semicolons outside its quoted text."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for character in code:
        if character == '"':
            quoted = not quoted
        if character == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(character)
    parts.append("".join(current))
    return parts


def _condition(section: str) -> tuple[str, Decimal] | None:
    for token in _BRACKET.findall(section):
        found = _CONDITION.match(token.strip())
        if found is not None:
            try:
                return found.group(1), Decimal(found.group(2))
            except ArithmeticError:
                return None
    return None


def _holds(condition: tuple[str, Decimal], number: Decimal) -> bool:
    op, bound = condition
    return {
        "<": number < bound,
        "<=": number <= bound,
        ">": number > bound,
        ">=": number >= bound,
        "=": number == bound,
        "<>": number != bound,
    }[op]


def _section_for(code: str, number: Decimal) -> str:
    """The section Excel shows ``number`` by."""
    sections = _sections(code)
    conditions = [_condition(s) for s in sections]
    if any(conditions):
        for section, condition in zip(sections, conditions, strict=True):
            if condition is not None and _holds(condition, number):
                return section
        unconditioned = [s for s, c in zip(sections, conditions, strict=True) if c is None]
        return unconditioned[0] if unconditioned else sections[-1]
    if number < 0 and len(sections) > 1:
        return sections[1]
    if number == 0 and len(sections) > 2:
        return sections[2]
    return sections[0]


def _serial(value: Any) -> Decimal:
    if isinstance(value, datetime | date):
        from openpyxl.utils.datetime import to_excel

        return Decimal(str(to_excel(value)))
    return _as_shown(value)


def _as_shown(value: Any) -> Decimal:
    """A number to the 15 significant digits Excel shows and computes with: 300.29999999999995,
    as Excel writes 100.1+200.2 pasted as a value, is 300.3."""
    if isinstance(value, float):
        return Decimal(format(value, ".15g"))
    return Decimal(str(value))


def shows(code: str, value: Any) -> bool:
    """Whether a cell of ``value`` (a number, or a date as openpyxl read it) in the number format
    ``code`` shows its own value: not other digits or words of the format's own text, not nothing,
    not white; a number also not scaled (%, a thousands comma at the end, an exponent) nor with
    fewer decimals than it holds. Judged on the section Excel shows the value by."""
    if _GENERAL.fullmatch(code.strip()) or code.strip() in ("", "@"):
        return True
    if isinstance(value, str):  # text: by the fourth section, if any, which must show it (@)
        sections = _sections(code)
        if len(sections) < 4:
            return True
        text = sections[3]
        white = any(_faint_named(b.strip().lower()) for b in _BRACKET.findall(text))
        numerals = any(_number_like(_literal(t)) for t in _TEXT.findall(text))
        return "@" in _TEXT.sub("", text) and not white and not numerals
    try:
        number = _serial(value)
    except (ArithmeticError, ValueError, TypeError, OverflowError):
        return True  # not a value a format applies to
    section = _section_for(code, number)
    literals = [_literal(text) for text in _TEXT.findall(section)]
    if number == 0 and not any(_NUMERALS.search(t) and not _ZERO.fullmatch(t) for t in literals):
        return True  # zero shown as a dash or 零, the value it is
    if any(_number_like(text) for text in literals):
        return False
    brackets = [b.strip().lower() for b in _BRACKET.findall(section)]
    if any(_faint_named(b) for b in brackets):
        return False
    if not isinstance(value, datetime | date) and any("." in text for text in literals):
        return False  # a decimal point as text (0\.00, 0"."00, 0!.00): 20000 shown as 200.00
    plain = _BRACKET.sub("", _TEXT.sub("", section))
    if _GENERAL.search(plain):
        return True
    if isinstance(value, datetime | date):
        return _whole_date(plain) and not any(_NUMERALS.search(t) for t in literals)
    if not re.search(r"[0#?]", plain):
        return False
    if "%" in plain or re.search(r"[eE][+-]", plain):
        return False
    scaled = _SCALE.search(plain)
    if scaled is not None:
        # thousands (a comma after the last digit: ÷1,000 each) only with the unit that says so, and
        # none of the digits it drops other than 0 (123456 as 123千元 hides 456)
        times = len(scaled.group(1))
        units = [_literal(t).strip() for t in _TEXT.findall(section) if _shown_text(t)]
        if _UNITS.get(times) is None or not any(unit in _UNITS[times] for unit in units):
            return False
        number = number.scaleb(-3 * times)
    decimals = re.search(r"\.([0#?]*)", plain)
    shown = len(decimals.group(1)) if decimals else 0
    return _decimals(number) <= shown


# a thousands scale (a comma after the last digit, once for each 1,000) and the units that say it
_SCALE = re.compile(r"[0#?](,+)(?![0#?,])")
_UNITS = {1: ("千", "千元", "K", "k"), 2: ("百万", "百万元", "M")}
# a format's runs of date letters (month or minute: m; day or weekday: d)
_DATE_RUN = re.compile(r"y+|m+|d+|h+|s+", re.IGNORECASE)


def _whole_date(plain: str) -> bool:
    """Whether a date format shows the year, the month and the day of the month: not 6月3日, 2024-06,
    13:00 (m next to h or s is minutes), a weekday (ddd) or a month's first letter (mmmmm)."""
    runs = [run.lower() for run in _DATE_RUN.findall(re.sub(r"am/pm|a/p", "", plain, flags=re.IGNORECASE))]
    year = any(run[0] == "y" for run in runs)
    day = any(run[0] == "d" and len(run) <= 2 for run in runs)
    month = False
    for n, run in enumerate(runs):
        if run[0] != "m" or len(run) > 4:
            continue
        after_hour = n > 0 and runs[n - 1][0] == "h"
        before_second = n + 1 < len(runs) and runs[n + 1][0] == "s"
        month = month or not (after_hour or before_second)
    return year and month and day


def _decimals(number: Decimal) -> int:
    """How many decimals a number holds (500.40: 1)."""
    if number == number.to_integral_value():
        return 0
    exponent = number.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) else 0


def sheet_seen(path: Path, book: Any, sheet: Any) -> Unseen:
    """Refuse a first sheet an officer does not see as the one read, rows out of order, a cell
    Excel ignores, a conditional format that changes how numbers look; the rest of what is not
    seen, for the rows read to be looked at (``Unseen.look``)."""
    if sheet.sheet_state != "visible":
        msg = _(
            "{file}: its first sheet, {sheet}, is hidden; import reads the first sheet, and only what an "
            "officer sees: unhide it, or put the rows to import on a visible first sheet"
        ).format(file=path.name, sheet=sheet.title)
        raise BadInputError(msg)
    shown = book.active
    if shown is not None and shown is not sheet:
        msg = _(
            "{file} opens on its sheet {shown}, but import reads its first sheet, {sheet}: save the "
            "workbook open on the first sheet, or put the rows to import there"
        ).format(file=path.name, shown=shown.title, sheet=sheet.title)
        raise BadInputError(msg)
    from lxml import etree
    from openpyxl.utils.cell import range_boundaries
    from openpyxl.xml.constants import SHEET_MAIN_NS

    def tag(name: str) -> str:
        return f"{{{SHEET_MAIN_NS}}}{name}"

    row_tag, column_tag, format_tag, merge_tag, rule_tag = (
        tag(n) for n in ("row", "col", "sheetFormatPr", "mergeCell", "cfRule")
    )
    later_rule = f"{{{X14}}}cfRule"  # Excel 2010's rules, in the sheet's extension list
    unseen = Unseen(book)
    unseen.runs = shared_runs(path)
    number = 0
    rows_hidden = False  # a row of no height of its own is hidden (zeroHeight, a low default)
    try:
        with zipfile.ZipFile(path) as archive, archive.open(sheet._worksheet_path) as stream:
            for _event, element in etree.iterparse(
                stream,
                events=("end",),
                tag=(row_tag, column_tag, format_tag, merge_tag, rule_tag, later_rule),
                resolve_entities=False,
            ):
                if element.tag == row_tag:
                    named = element.get("r")
                    was, number = number, int(float(named)) if named is not None else number + 1
                    if number <= was:
                        raise BadInputError(
                            _(
                                "{file}: row {row} of its first sheet comes after row {before}; rows "
                                "out of order or repeated are not read as an officer sees them"
                            ).format(file=path.name, row=number, before=was)
                        )
                    height = element.get("ht")
                    if (
                        _true(element.get("hidden"))
                        or _below(height, ROW_SEEN)
                        or (rows_hidden and height is None)
                    ):
                        unseen.rows.add(number)
                    column = 0
                    for child in element:
                        if isinstance(child.tag, str) and child.tag == tag("c"):
                            column = _column_of(child.get("r"), column + 1)
                            runs = None
                            rich = child.find(tag("is"))
                            if child.get("t") == "s" and unseen.runs:
                                index = _whole(child.findtext(tag("v")))
                                runs = None if index is None else unseen.runs.get(index)
                            elif rich is not None and rich.find(tag("r")) is not None:
                                runs = _run_fonts(rich)
                            if runs and _runs_unseen(book, runs, _whole(child.get("s"))):
                                unseen.faint_runs.add((number, column))
                        elif isinstance(child.tag, str):
                            raise BadInputError(
                                _(
                                    "{file}: row {row} of its first sheet holds an element Excel does not "
                                    "show as a cell ({element}); save the workbook again from Excel"
                                ).format(file=path.name, row=number, element=etree.QName(child).localname)
                            )
                elif element.tag == column_tag:
                    low, high = int(element.get("min") or 0), int(element.get("max") or 0)
                    columns = range(max(low, 1), min(high, 16384) + 1)
                    if _true(element.get("hidden")) or _below(element.get("width"), COLUMN_SEEN):
                        unseen.columns.update(columns)
                    else:
                        unseen.visible_columns.update(columns)
                elif element.tag == format_tag:
                    rows_hidden = _true(element.get("zeroHeight")) or _below(
                        element.get("defaultRowHeight"), ROW_SEEN
                    )
                    unseen.columns_hidden = _below(element.get("defaultColWidth"), COLUMN_SEEN)
                elif element.tag == merge_tag:
                    left, top, right, bottom = range_boundaries(element.get("ref") or "")
                    if None not in (left, top, right, bottom):
                        unseen.merge(int(top), int(left), int(bottom), int(right))
                elif _changes_numbers(book, element):
                    raise BadInputError(
                        _(
                            "{file}: its first sheet has a conditional format that changes how numbers "
                            "look or hides them; import reads only what an officer sees: remove it"
                        ).format(file=path.name)
                    )
                element.clear()
                while element.getprevious() is not None:  # the rows read before, emptied
                    del element.getparent()[0]
    except (etree.Error, ValueError, TypeError) as e:
        msg = _("{file} is not a readable Excel workbook: {error}").format(file=path.name, error=e)
        raise BadInputError(msg) from None
    return unseen


def _changes_numbers(book: Any, rule: Any) -> bool:
    """Whether a conditional format's rule gives its cells a number format, or white type on no
    fill of its own, or tiny type: by the workbook's style it names (``dxfId``), or by the style
    it holds (Excel 2010's rules in the sheet's extension list, ``x14:dxf``)."""
    from openpyxl.styles.differential import DifferentialStyle

    for child in rule.iter():
        if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] in ("dataBar", "iconSet"):
            if not _shown_value(child.get("showValue")):
                return True  # a bar or an icon in the number's place
    style: Any = None
    held = rule.find(f"{{{X14}}}dxf")
    try:
        if held is not None:
            style = DifferentialStyle.from_tree(held)
        elif rule.get("dxfId") is not None:
            style = book._differential_styles[int(rule.get("dxfId"))]
    except (IndexError, ValueError, AttributeError, TypeError, KeyError):
        return False
    if style is None:
        return False
    font, fill = getattr(style, "font", None), getattr(style, "fill", None)
    tiny = font is not None and font.sz is not None and float(font.sz) < TYPE_SEEN
    given = [
        color
        for color in (getattr(fill, "bgColor", None), getattr(fill, "fgColor", None))
        if color is not None and getattr(color, "type", None) in ("rgb", "theme", "indexed")
    ]
    backgrounds = [_colour(book, color, WHITE_RGB) for color in given] or [WHITE_RGB]
    text = None if font is None or font.color is None else _colour(book, font.color, BLACK)
    faint = text is not None and all(_faint(text, background) for background in backgrounds)
    return getattr(style, "numFmt", None) is not None or tiny or faint


def _shown_value(value: str | None) -> bool:
    """A data bar's or icon set's ``showValue``: the number shown beside it unless plainly not."""
    return value is None or value.strip().lower() not in ("0", "false")


def _column_of(reference: str | None, otherwise: int) -> int:
    """A cell's column from its reference (G2: 7), or ``otherwise`` without one."""
    letters = "".join(c for c in reference or "" if c.isalpha())
    if not letters:
        return otherwise
    from openpyxl.utils.cell import column_index_from_string

    try:
        return int(column_index_from_string(letters.upper()))
    except ValueError:
        return otherwise


def _whole(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _true(value: str | None) -> bool:
    """An XML boolean that is not plainly false (a spelling Excel would refuse is taken as true)."""
    return value is not None and value.strip().lower() not in ("0", "false")


def _below(value: str | None, least: float) -> bool:
    if value is None:
        return False
    try:
        return float(value.strip()) < least
    except ValueError:
        return True  # a size that is not a number: as good as none
