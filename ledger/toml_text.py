"""TOML a person gave, read where its nesting may reach the interpreter's stack limit."""

from __future__ import annotations

import gc
import tomllib
from typing import Any


def parsed(text: str) -> dict[str, Any]:
    """``tomllib.loads(text)`` (TOMLDecodeError, or RecursionError past the stack's depth), with
    no garbage collection meanwhile: tomllib recurses once a level of nesting, and a collection
    started near the limit ran the finalisers of what was left to collect (an application closed
    earlier in the process), which failed for want of stack and printed "Exception ignored …"
    beside the one sentence the person reads."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return tomllib.loads(text)
    finally:
        if enabled:
            gc.enable()
