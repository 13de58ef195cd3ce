"""What typed-in text may hold: no control characters, but a tab in free text.

The actions (ledger/actions.py), --actor and the importer's cells
apply the same rule, so a value refused in one place is refused in the other.
"""

from __future__ import annotations

import re

# the characters refused, as regular-expression classes (ledger.actions hands them to pydantic)
CONTROL_CHARACTERS = r"\x00-\x1f\x7f"
CONTROL_CHARACTERS_BUT_TAB = r"\x00-\x08\x0a-\x1f\x7f"
# in identifiers (ids, vouchers, references, actors): no control character at all
CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
# in free text (names, memos, reasons): a tab is text
CONTROL_BUT_TAB = re.compile(f"[{CONTROL_CHARACTERS_BUT_TAB}]")
