"""Text in a workbook cell as a spreadsheet shows it.

A workbook's text carries a character as ``_xHHHH_`` (ECMA-376 Part 1, 22.9.2.19 ST_Xstring), and
Excel shows every such run decoded: a voucher stored as ``S-_x0030_103`` shows as ``S-0103``.
openpyxl neither writes nor reads the runs, so the writers escape text here (a typed ``_`` before
``xHHHH_`` as ``_x005F_``, as Excel saves it) and the readers decode it, as Excel shows it.
"""

from __future__ import annotations

import re

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
