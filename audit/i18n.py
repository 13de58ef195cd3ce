"""The audit producer's messages (checkpoints, bundles, the log): its catalogue, ``locale/``."""

from __future__ import annotations

from pathlib import Path

from ledger.i18n import N_, catalogue

__all__ = ["N_", "_"]

_ = catalogue("audit", Path(__file__).parent / "locale")
