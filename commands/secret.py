"""A passphrase or a password typed at the terminal, never echoed; without a terminal (cron, CI,
a pipe with no terminal behind it) the command stops in one sentence naming the variable that
gives it instead, where Python's getpass had warned, echoed the prompt and ended in exit 1."""

from __future__ import annotations

import os

import click
from click import termui

from commands.i18n import _
from ledger.errors import BadInputError


def _terminal() -> bool:
    """Whether a hidden prompt has a terminal to read from (getpass opens /dev/tty on POSIX); a
    prompt the caller supplies in its place (click's test runner) always has its input."""
    if getattr(termui.hidden_prompt_func, "__module__", "") != "click.termui" or os.name != "posix":
        return True
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def ask_secret(prompt: str, variable: str, *, confirm: bool = False) -> str:
    if not _terminal():
        raise BadInputError(
            _("{prompt}: there is no terminal to ask on; set {variable} instead").format(
                prompt=prompt, variable=variable
            )
        )
    try:
        return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True))
    except click.exceptions.Abort:
        # click gives Ctrl-C and the end of input at a prompt as one Abort, without its cause
        raise BadInputError(
            _("{prompt}: no answer was given; nothing was written").format(prompt=prompt)
        ) from None
