"""What typed-in text may hold: no control characters, but a tab in free text.

The actions (ledger/actions.py), --actor and the importer's cells
apply the same rule, so a value refused in one place is refused in the other.
"""

from __future__ import annotations

import re

# in identifiers (ids, vouchers, references, actors): no control character at all
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# in free text (names, memos, reasons): a tab is text
CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
