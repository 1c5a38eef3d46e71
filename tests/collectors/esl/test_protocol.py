"""The sans-I/O ESL parser on the real FreeSWITCH 1.10.12 captures (fixtures/freeswitch-light) and edge bytes."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache

import pytest
from fixture_paths import FREESWITCH
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.esl.protocol import (
    EslFrame,
    EslParser,
    FrameTooLarge,
    MalformedFrame,
    TruncatedFrame,
    callcenter_only,
    encode_command,
    parse_plain,
)


@cache
def transcript(name: str = "esl_transcript.txt") -> bytes:
    return (FREESWITCH / name).read_bytes()


def frames_of(data: bytes, chunks: list[int] | None = None, **options: object) -> list[EslFrame]:
    parser = EslParser(**options)  # type: ignore[arg-type]
    if chunks is None:
        parser.receive_data(data)
    else:
        start = 0
        for end in [*chunks, len(data)]:
            parser.receive_data(data[start:end])
            start = end
    parser.receive_eof()
    assert parser.errors() == []
    return parser.frames_received()


@pytest.mark.parametrize("name", ["esl_transcript.txt", "esl_transcript_cc_filtered.txt", "esl_transcript_cc_json.txt"])
def test_every_frame_of_the_real_captures_at_its_recorded_offset_and_length(name: str) -> None:
    sidecar = "esl_frames.jsonl" if name == "esl_transcript.txt" else name.replace(".txt", "_frames.jsonl")
    recorded = [json.loads(line) for line in (FREESWITCH / sidecar).read_text().splitlines()]
    frames = frames_of(transcript(name))
    assert [(f.offset, f.size, f.content_type) for f in frames] == [
        (r["offset"], r["length"], r["content_type"]) for r in recorded
    ]
    for frame, row in zip(frames, recorded, strict=True):
        if row.get("event_name"):
            assert frame.event is not None and frame.event["Event-Name"] == row["event_name"]
            for key, header in (("event_subclass", "Event-Subclass"), ("cc_action", "CC-Action")):
                if key in row:  # the JSON capture's sidecar records the event name only
                    assert frame.event.get(header) == row[key]


def test_the_recv_boundaries_of_the_capture_give_the_same_frames() -> None:
    """Fed as FreeSWITCH's recv() calls cut it (esl_chunks.jsonl), the transcript gives the same frames."""
    data = transcript()
    rows = map(json.loads, (FREESWITCH / "esl_chunks.jsonl").read_text().splitlines())
    cuts = [row["offset"] for row in rows if row["dir"] == "rx"]
    whole = frames_of(data)
    assert len(cuts) > 10 and frames_of(data, [c for c in cuts if c]) == whole


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=60_000), min_size=1, max_size=12))
def test_any_chunking_gives_the_same_frames(cuts: list[int]) -> None:
    data = transcript()[:60_000]
    parser = EslParser()
    parser.receive_data(data)
    reference = parser.frames_received()
    assert frames_of(data[: reference[-1].offset + reference[-1].size], sorted(set(cuts))) == reference


def test_plain_values_are_url_decoded_and_subclass_names_a_custom_event() -> None:
    frames = frames_of(transcript())
    info = next(f for f in frames if f.name == "callcenter::info")
    assert info.event is not None and info.event["Event-Subclass"] == "callcenter::info"
    assert info.event["FreeSWITCH-IPv6"] == "fd00::2"
    queues = {f.event["CC-Queue"] for f in frames if f.event and "CC-Queue" in f.event}
    assert queues == {"support@default", "sales@default", "billing@default"}
    statuses = {f.event["CC-Agent-Status"] for f in frames if f.event and "CC-Agent-Status" in f.event}
    assert "On Break" in statuses and "Available" in statuses


def test_background_job_bodies_and_the_disconnect_notice() -> None:
    frames = frames_of(transcript())
    jobs = [f for f in frames if f.name == "BACKGROUND_JOB"]
    assert jobs and all(f.event_body is not None and f.event_body.startswith("+OK ") for f in jobs)
    assert frames[-1].content_type == "text/disconnect-notice" and "Disconnected" in frames[-1].text
    assert [f.reply for f in frames[1:3]] == ["+OK accepted", "+OK event listener enabled plain"]


def test_json_events_equal_the_plain_ones() -> None:
    """The JSON connection's callcenter::info events carry the same values as the plain connection's."""
    plain = [f.event for f in frames_of(transcript("esl_transcript_cc_filtered.txt")) if f.name == "callcenter::info"]
    as_json = [f.event for f in frames_of(transcript("esl_transcript_cc_json.txt")) if f.name == "callcenter::info"]
    key = ("CC-Action", "Event-Date-Timestamp")
    assert [tuple(e[k] for k in key) for e in plain if e] == [tuple(e[k] for k in key) for e in as_json if e]


def test_the_control_connection_replies_are_api_responses() -> None:
    text = (FREESWITCH / "esl_control_transcript.txt").read_bytes()
    data = b"".join(line + b"\n" for line in text.split(b"\n") if not line.startswith(b">>> "))
    frames = frames_of(data.rstrip(b"\n") + b"\n")
    kinds = Counter(f.content_type for f in frames)
    assert kinds["api/response"] > 10 and kinds["command/reply"] >= 1
    queues = next(f.text for f in frames if f.text.startswith("name|strategy|"))  # callcenter_config queue list
    assert {"support@default", "sales@default", "billing@default"} <= {line.split("|")[0] for line in queues.split()}


def test_a_dropped_frame_costs_no_decoding_and_callcenter_only_keeps_replies() -> None:
    data = transcript()
    parser = EslParser(drop=callcenter_only)
    parser.receive_data(data)
    kept = parser.frames_received()
    kept_names = {"callcenter::info", "BACKGROUND_JOB"}  # the results of bgapi commands too
    assert {f.name for f in kept if f.event is not None} == kept_names
    assert parser.dropped == sum(1 for f in frames_of(data) if f.event is not None and f.name not in kept_names)
    assert any(f.content_type == "command/reply" for f in kept)


def test_bad_frames_are_reported_with_their_offset_and_the_rest_goes_on() -> None:
    good = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
    parser = EslParser(max_frame=200)
    parser.receive_data(good + b"no colon here\n\n" + b"Content-Length: x1\n\n" + good)
    parser.receive_data(b"Content-Length: 500\nContent-Type: text/event-plain\n\n" + b"A" * 500 + good)
    parser.receive_data(b"Content-Length: 10\nContent-Type: text/event-json\n\n{not json}" + good)
    parser.receive_data(b"Content-Length: 40\n\nabc")
    parser.receive_eof()
    errors = parser.errors()
    assert [type(e) for e in errors] == [MalformedFrame, MalformedFrame, FrameTooLarge, MalformedFrame, TruncatedFrame]
    assert errors[1].offset == len(good) + len(b"no colon here\n\n")
    frames = parser.frames_received()
    assert [f.reply for f in frames if f.content_type == "command/reply"] == ["+OK"] * 4
    assert [f.event for f in frames if f.content_type == "text/event-json"] == [None]


def test_an_oversized_body_is_discarded_as_it_arrives() -> None:
    parser = EslParser(max_frame=100)
    parser.receive_data(b"Content-Length: 1000\nContent-Type: text/event-plain\n\n" + b"x" * 10)
    for _ in range(99):
        parser.receive_data(b"y" * 10)
    parser.receive_data(b"Content-Type: command/reply\nReply-Text: +OK\n\n")
    assert [f.reply for f in parser.frames_received()] == ["+OK"]
    assert [type(e) for e in parser.errors()] == [FrameTooLarge]


def test_plain_bodies_keep_colons_in_values_and_commands_refuse_line_breaks() -> None:
    headers, inner = parse_plain(b"A: b: c\nUrl: x%3Ay\nEmpty:\n\n")
    assert (headers, inner) == ({"A": "b: c", "Url": "x:y", "Empty": ""}, None)
    assert encode_command("api callcenter_config queue list") == b"api callcenter_config queue list\n\n"
    with pytest.raises(ValueError, match="one line"):
        encode_command("auth x\nevent plain ALL")
