"""The verifier reads events.jsonl a chunk at a time: whatever the chunk size and wherever lines
end, it yields the file's lines as they are (a last line of blanks aside). Lines longer than a
chunk are gathered in parts and joined once: a red-team pass found a line of 512 MB taking two
minutes as each chunk was joined to all before it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.verifier import scan


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"\n", b"a", b"{}", b" ", b"x" * 9]), max_size=60).map(b"".join),
    chunk=st.integers(min_value=1, max_value=12),
)
def test_the_lines_read_in_chunks_are_the_file_s(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, chunk: int
) -> None:
    path = tmp_path_factory.mktemp("lines") / "events.jsonl"
    path.write_bytes(data)
    expected = data.split(b"\n")
    if not expected[-1].strip():
        expected.pop()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scan, "CHUNK", chunk)
        assert list(scan.lines(path)) == expected


def test_a_line_of_many_chunks_is_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "CHUNK", 1024)
    line = b"x" * (4 * 1024 * 1024)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"first\n" + line + b"\nlast\n")
    assert list(scan.lines(path)) == [b"first", line, b"last"]
