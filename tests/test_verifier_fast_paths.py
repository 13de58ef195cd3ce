"""The verifier's quicker readings of events.jsonl give what the plain ones give, for any line:
the event log's row read off a line in one match (audit.verifier.workbook._log_row) is the
two-step reading's (``_exported_row``), and a record decoded by the JSON scanner alone
(audit.verifier.scan._exported_line) is what the decoder takes, or fails alike."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.verifier import scan, workbook

# pieces of lines as export writes them, and the characters that could upset a reading of them
TEXT = st.text(
    alphabet=st.sampled_from(["a", "0", "-", ":", '"', "\\", "/", "u", "é", "财", "\x7f", " "]), max_size=6
)
HASH = "ab" * 32


def _line(index: int, version: int, originator: str, recorded: str, topic: str, tail: str) -> bytes:
    record = json.dumps(
        {
            "originator_id": originator,
            "originator_version": version,
            "recorded_at": recorded,
            "state": {"x": tail},
            "topic": topic,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    head = f'{{"leaf_index":{index},"event_id":{index + 1},"leaf_hash":"{HASH}","record":'
    return (head + record + "}").encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(
    index=st.integers(0, 10**6),
    version=st.integers(-3, 10**6),
    originator=TEXT,
    recorded=TEXT,
    topic=TEXT,
    tail=TEXT,
    cut=st.integers(0, 400),
    insert=st.sampled_from([b"", b"\\", b'"', b" ", b"\xff", b"}", b'","state":']),
)
def test_the_row_read_in_one_match_is_the_row_read_in_two(
    index: int, version: int, originator: str, recorded: str, topic: str, tail: str, cut: int, insert: bytes
) -> None:
    raw = _line(index, version, originator, recorded, topic, tail)
    for line in (raw, raw[:cut] + insert + raw[cut:], raw[:cut]):
        assert workbook._log_row(line) == workbook._exported_row(line)


def _decoded(text: str) -> object:
    try:
        return ("value", repr(scan._decode(text)))
    except (ValueError, RecursionError):
        return ("refused",)


def _scanned(text: str) -> object:
    """What _exported_line makes of a record's text: the scanner, else the decoder."""
    try:
        try:
            value, end = scan._scan_once(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            value = scan._decode(text)
    except (ValueError, RecursionError):
        return ("refused",)
    return ("value", repr(value))


JSONISH = st.lists(
    st.sampled_from(
        [
            "{",
            "}",
            "[",
            "]",
            '"',
            ",",
            ":",
            "0",
            "1",
            "-",
            ".",
            "e",
            " ",
            "\t",
            "\n",
            "a",
            "\\",
            "true",
            "null",
            "NaN",
            "Infinity",
            '{"a":1}',
            '"x"',
        ]
    ),
    max_size=14,
).map("".join)


@settings(max_examples=2000, deadline=None)
@given(text=JSONISH)
def test_a_record_scanned_is_a_record_decoded(text: str) -> None:
    assert _scanned(text) == _decoded(text)


def test_a_record_scanned_is_a_record_decoded_at_the_edges() -> None:
    for text in [
        '{"a":1}',
        ' {"a":1}',
        '{"a":1} ',
        '{"a":1}x',
        "",
        "[" * 100_000,
        '{"a":"\\x"}',
        '{"a":1}{}',
    ]:
        assert _scanned(text) == _decoded(text)


def test_a_line_as_export_writes_it_is_scanned() -> None:
    """The scanner's path is the one taken: an exported line's record decodes whole."""
    data = _line(0, 1, "o", "2024-01-01", "grant-ledger:Grant.Applied", "财")
    leaf = scan._LEAF_PREFIX.copy()
    record = data[data.index(b'"record":') + len(b'"record":') : -1]
    leaf.update(record)
    line = data.replace(HASH.encode(), leaf.hexdigest().encode())
    parsed = scan._exported_line(line)
    assert parsed is not None and parsed[2] == json.loads(record)
