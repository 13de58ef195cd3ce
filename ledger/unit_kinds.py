"""The kinds of unit a base rests on (``unit register --kind``): a unit's own, and those a
programme's host units and some application conditions name in the policy data."""

from __future__ import annotations

UNIT_KINDS = (
    "technical_school",
    "senior_technical_school",
    "technician_college",
    "enterprise",
    "training_institution",
    "public_base",
    "other",
)
