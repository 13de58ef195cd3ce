"""Text in a workbook cell as a spreadsheet shows it.

A workbook's text carries a character as ``_xHHHH_`` (ECMA-376 Part 1, 22.9.2.19 ST_Xstring), and
Excel shows every such run decoded: a voucher stored as ``S-_x0030_103`` shows as ``S-0103``.
openpyxl neither writes nor reads the runs, so the writers escape text here (a typed ``_`` before
``xHHHH_`` as ``_x005F_``, as Excel saves it) and the readers decode it, as Excel shows it.
"""

from __future__ import annotations

import re
from typing import Any

_RUN_AHEAD = re.compile("_(?=x[0-9A-Fa-f]{4}_)")
_RUN = re.compile("_x([0-9A-Fa-f]{4})_")


def escape_ooxml(value: str) -> str:
    """``S-_x0030_103`` as ``S-_x005F_x0030_103``, which a spreadsheet shows as typed."""
    return _RUN_AHEAD.sub("_x005F_", value) if "_x" in value else value


def unescape_ooxml(value: str) -> str:
    """A cell's text as a spreadsheet shows it: ``S-_x0030_103`` is ``S-0103``, and
    ``_x005F_x0030_`` is ``_x0030_``."""
    if "_x" not in value:
        return value
    return _RUN.sub(lambda m: chr(int(m.group(1), 16)), value)


def as_shown(values: Any) -> list[Any]:
    """A row's values as a spreadsheet shows them: each text decoded (``unescape_ooxml``)."""
    return [unescape_ooxml(v) if isinstance(v, str) else v for v in values]


def load_as_stored(path: Any, *, data_only: bool) -> Any:
    """``openpyxl.load_workbook(path, read_only=True, data_only=…)``, its shared strings as the file
    stores them. openpyxl takes every ``x005F_`` out of a shared string (a workbook Excel saved
    keeps its text there): ``S-_x005F_x0030_103``, which Excel shows as ``S-_x0030_103``, came out
    as ``S-_x0030_103`` and, decoded once more, as ``S-0103``; ``Ax005F_B`` came out as ``AB``.
    Read as stored, the text is decoded once, by ``unescape_ooxml``."""
    from openpyxl.reader.excel import ExcelReader

    class AsStored(ExcelReader):
        def read_strings(self) -> None:
            from openpyxl.xml.constants import SHARED_STRINGS

            part = self.package.find(SHARED_STRINGS)
            if part is not None:
                with self.archive.open(part.PartName[1:]) as source:
                    self.shared_strings = _string_table(source)

    reader = AsStored(path, read_only=True, keep_vba=False, data_only=data_only, keep_links=True)
    reader.read()
    return reader.wb


def _string_table(source: Any) -> list[str]:
    """openpyxl's ``read_string_table`` without its ``replace("x005F_", "")``."""
    from openpyxl.cell.text import Text
    from openpyxl.xml.constants import SHEET_MAIN_NS
    from openpyxl.xml.functions import iterparse

    strings = []
    tag = f"{{{SHEET_MAIN_NS}}}si"
    for _, node in iterparse(source):
        if node.tag == tag:
            strings.append(Text.from_tree(node).content)
            node.clear()
    return strings
