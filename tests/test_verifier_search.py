"""The verifier finds a log's policy install events by searching events.jsonl a block at a time
(audit.verifier.policy._lines_holding): the lines it yields are those a line-by-line read finds,
wherever the blocks cut the file."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.verifier import policy

NEEDLE = b"grant-ledger:PolicyBook.Installed"
LINE = st.lists(st.sampled_from([b"a", b"{", b'"', b" ", NEEDLE]), max_size=8).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(lines=st.lists(LINE, max_size=30), last_ends=st.booleans(), block=st.integers(1, 80))
def test_the_lines_holding_the_topic_are_those_a_line_by_line_read_finds(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes], last_ends: bool, block: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if last_ends and lines else b"")
    path = tmp_path_factory.mktemp("log") / "events.jsonl"
    path.write_bytes(data)
    wanted = [line for line in data.splitlines(keepends=True) if NEEDLE in line]
    before = policy._SEARCHED
    policy._SEARCHED = block
    try:
        assert list(policy._lines_holding(path, NEEDLE)) == wanted
    finally:
        policy._SEARCHED = before
