"""``people password NAME``: who may set a person's web password, and with which key.

The person themself, signing with their own registered key: the password seals that key, so the
web signs their records as their key file would. An administrator may set a person's first
password only (never replace one: that would let an administrator sign in as them); with
``--person-key`` the person's private key, which must be the one registered, is sealed too,
otherwise the person can read on the web but records nothing there until they set their password
again with their own key.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from commands.web.credentials import check_password, has_password, set_password
from commands.web.i18n import _
from commands.web.sessions import end_sessions_of
from ledger.clock import business_today
from ledger.errors import BadInputError, ConflictError, NotFoundError, RuleViolationError

if TYPE_CHECKING:
    from commands.context import Settings
    from ledger.seal import Signer

CLAUSE = "who sets a web password (README: grant-ledger serve)"


def set_web_password(s: Settings, name: str, password: str, person_key: Path | None) -> str:
    """Store NAME's web password as the signed-in person may; the sentence to print."""
    from ledger.seal import load_signer

    check_password(password)
    signer = s.signer()
    app = s.ledger()
    registry = app.trust.registry(fresh=True)
    me = registry.signer(signer.fingerprint)
    if me is None:
        raise RuleViolationError(
            _("the key {key}… is not a registered person's current key").format(key=signer.fingerprint[:16]),
            rule="people password",
            clause=CLAUSE,
        )
    target = registry.people.get(name)
    if target is None:
        raise NotFoundError(
            _("{name} is not registered; an administrator registers them with `people add`").format(name=name)
        )
    if not target.active:
        raise RuleViolationError(
            _("{name} is revoked and signs in no more").format(name=name),
            rule="people password",
            clause=CLAUSE,
        )
    engine = app.engine
    key: Signer | None
    if me.name == name:
        if person_key is not None:
            raise BadInputError(_("--person-key is for an administrator; your own key (--key) is sealed"))
        key = signer
    elif me.role_on(business_today()) == "admin":
        if has_password(engine, name):
            raise ConflictError(
                _(
                    "{name} has a web password already; only {name} changes it, signing with their own key"
                ).format(name=name)
            )
        key = load_signer(person_key) if person_key is not None else None
        if key is not None and key.fingerprint != target.key:
            raise BadInputError(
                _("--person-key {path} is not {name}'s registered key ({key}…)").format(
                    path=person_key, name=name, key=target.key[:16]
                )
            )
    else:
        raise RuleViolationError(
            _(
                "only {name}, with their own key, or an administrator setting a first password may set "
                "{name}'s web password; you are {me}"
            ).format(name=name, me=me.name),
            rule="people password",
            clause=CLAUSE,
        )
    # every session opened with the password it replaces ends with it (it may have leaked)
    set_password(engine, name, password, key, me.name, lambda conn: end_sessions_of(conn, name, time.time()))
    if key is None:
        return _(
            "web password of {name} set; no signing key on the server: {name} reads on the web "
            "and records there once they set their password with their own key"
        ).format(name=name)
    return _("web password of {name} set; it unlocks the key {key}… at sign-in").format(
        name=name, key=key.fingerprint[:16]
    )
