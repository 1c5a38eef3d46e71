"""Tests for collectors/ami/protocol.py: bytes in, frames and errors out, from real captures and crafted streams."""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from fixture_paths import LIGHT, PUBLIC
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.ami.protocol import (
    AmiParser,
    Frame,
    FrameTooLarge,
    ListAssembler,
    ListResult,
    MalformedFrame,
    ProtocolError,
    TruncatedFrame,
    drop_events,
    encode_action,
)

TRANSCRIPT = (LIGHT / "ami_transcript.txt").read_bytes()
INDEX = [json.loads(line) for line in (LIGHT / "ami_frames.jsonl").read_text().splitlines()]
INDEXED = [entry for entry in INDEX if entry["kind"] in ("banner", "event", "response")]

Result = tuple[list[Frame], list[ProtocolError], AmiParser]


def parse(chunks: Iterable[bytes], **options: object) -> Result:
    """Feed ``chunks`` one read at a time, then EOF; every frame and error, drained after each read."""
    parser = AmiParser(**options)  # type: ignore[arg-type]
    frames: list[Frame] = []
    errors: list[ProtocolError] = []
    for chunk in chunks:
        parser.receive_data(chunk)
        frames.extend(parser.frames_received())
        errors.extend(parser.errors())
    parser.receive_eof()
    frames.extend(parser.frames_received())
    errors.extend(parser.errors())
    return frames, errors, parser


def split(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(cuts), len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def signature(errors: list[ProtocolError]) -> list[tuple[str, int, str]]:
    return [(type(error).__name__, error.offset, str(error)) for error in errors]


WHOLE, WHOLE_ERRORS, _ = parse([TRANSCRIPT])


# -- the light transcript ---------------------------------------------------------------------------


def test_transcript_frames_match_the_capture_index() -> None:
    """Every frame's offset, size, kind, name and ActionID equal the capture's own frame index."""
    got = [(f.offset, f.size, f.kind, f.name, f.action_id) for f in WHOLE]
    expected = [(e["off"], e["len"], e["kind"], e["name"], e.get("actionid")) for e in INDEXED]
    assert got == expected
    assert WHOLE_ERRORS == []


@pytest.mark.parametrize("seed", range(5))
def test_transcript_in_random_chunks_gives_identical_frames(seed: int) -> None:
    """Reads cut at seeded random offsets (1 byte to 8 KiB) give exactly the frames of one big read."""
    rng = random.Random(seed)
    cuts, at = [], 0
    while True:
        at += rng.randint(1, 8192)
        if at >= len(TRANSCRIPT):
            break
        cuts.append(at)
    frames, errors, parser = parse(split(TRANSCRIPT, cuts))
    assert frames == WHOLE
    assert errors == []
    assert parser.buffered == 0


def test_first_frames_split_at_every_offset_give_identical_frames() -> None:
    """The banner and the first frames, split into two reads at every byte offset, always parse the same."""
    head = TRANSCRIPT[: INDEXED[6]["off"]]
    expected, _, _ = parse([head])
    assert [f.offset for f in expected] == [e["off"] for e in INDEXED[:6]]
    for cut in range(1, len(head)):
        frames, errors, _ = parse(split(head, [cut]))
        assert (frames, errors) == (expected, []), cut


def test_utf8_character_split_across_reads_survives() -> None:
    """A frame holding "José Álvarez" split inside each multi-byte character decodes the same."""
    name = "José Álvarez".encode()
    at = TRANSCRIPT.find(name)
    entry = max((e for e in INDEXED if e["off"] <= at), key=lambda e: e["off"])
    frame_bytes = TRANSCRIPT[entry["off"] : entry["off"] + entry["len"]]
    inner = at - entry["off"]
    multibyte = [i for i, byte in enumerate(name) if byte >= 0x80]
    assert len(multibyte) == 4  # é and Á, two bytes each
    for index in multibyte:
        frames, errors, _ = parse(split(frame_bytes, [inner + index]), expect_banner=False)
        assert errors == []
        assert "José Álvarez" in [value for _, value in frames[0].fields]
        assert all("\ufffd" not in value for _, value in frames[0].fields)


def test_frame_offsets_do_not_overlap_and_cover_every_nonblank_byte() -> None:
    """Frames tile the transcript: each starts where the previous one ended (no blank lines between them)."""
    ends = [f.offset + f.size for f in WHOLE]
    assert [f.offset for f in WHOLE[1:]] == ends[:-1]
    assert ends[-1] == len(TRANSCRIPT)


# -- public captures (Asterisk 11, \n line ends, actions interleaved) -------------------------------


def grep_frames(text: str) -> list[tuple[str, str]]:
    """(kind, name) of each blank-line-separated block, read the way one would by eye."""
    kinds = {"event": "event", "response": "response", "action": "action"}
    found: list[tuple[str, str]] = []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line.strip()]
        if lines and lines[0].startswith("Asterisk Call Manager/"):
            found.append(("banner", lines.pop(0)))
        if lines:
            key, _, value = lines[0].partition(": ")
            found.append((kinds[key.lower()], value) if key.lower() in kinds else ("unknown", key))
    return found


@pytest.mark.parametrize("path", sorted(PUBLIC.glob("*.ami")), ids=lambda p: p.name)
def test_public_capture_parses_with_the_names_read_by_eye(path: Path) -> None:
    """Each panoramisk capture yields the frames its blank-line blocks show, in order."""
    data = path.read_bytes()
    frames, errors, _ = parse([data])
    assert [(f.kind, f.name) for f in frames] == grep_frames(data.decode())[: len(frames)]
    if data.endswith(b"\n\n"):
        assert errors == []
        assert len(frames) == len(grep_frames(data.decode()))
    else:  # the capture stops before the last frame's blank line
        assert [type(e) for e in errors] == [TruncatedFrame]
        assert errors[0].offset == data.rindex(b"\n\n") + 2


def test_public_login_captures_by_hand() -> None:
    """login_ok: banner, the lower-case login action, its response, FullyBooted; login_failed ends in Error."""
    frames, errors, parser = parse([(PUBLIC / "panoramisk_login_ok.ami").read_bytes()])
    assert [(f.kind, f.name) for f in frames] == [
        ("banner", "Asterisk Call Manager/1.3"),
        ("action", "login"),
        ("response", "Success"),
        ("event", "FullyBooted"),
    ]
    assert parser.banner == "Asterisk Call Manager/1.3"
    assert frames[1].action_id == "action/transaction_uid/1/1"  # from a lower-case "ActionID:" key
    assert frames[2]["Message"] == "Authentication accepted"
    failed, _, _ = parse([(PUBLIC / "panoramisk_login_failed.ami").read_bytes()])
    assert (failed[-1].name, failed[-1]["Message"]) == ("Error", "Authentication failed")


def test_leading_single_space_line_is_tolerated() -> None:
    """A capture starting with a line holding one space parses its first action, without error or banner."""
    frames, errors, parser = parse([(PUBLIC / "panoramisk_agent_loggued_in.ami").read_bytes()])
    assert (frames[0].kind, frames[0].name, frames[0].offset) == ("action", "Ping", 2)
    assert parser.banner is None
    assert errors == []


def test_capture_gap_marker_becomes_an_unknown_frame() -> None:
    """'[218 bytes missing in capture file]Event: Newexten' has no Event key first: kind "unknown"."""
    frames, _, _ = parse([(PUBLIC / "panoramisk_agent_loggued_in.ami").read_bytes()])
    unknown = [f for f in frames if f.kind == "unknown"]
    assert [f.name for f in unknown] == [
        "[218 bytes missing in capture file]Event",
        "[1613 bytes missing in capture file]Event",
    ]


# -- command output -----------------------------------------------------------------------------------


def test_old_form_command_output_from_capture() -> None:
    """Response: Follows keeps its three headers; the raw line before --END COMMAND-- is the output."""
    frames, errors, _ = parse([(PUBLIC / "panoramisk_command_core_show_version.ami").read_bytes()])
    response = frames[1]
    assert errors == []
    assert response.fields == (
        ("Response", "Follows"),
        ("Privilege", "Command"),
        ("ActionID", "action/transaction_uid/1/1"),
    )
    assert len(response.output) == 1
    assert response.output[0].startswith("Asterisk 11.11.0+xivo") and response.output[0].endswith("19:30:37 UTC")


def test_old_form_command_output_spans_blank_lines() -> None:
    """Blank lines and ':' inside old-form output stay in the output; the frame ends after --END COMMAND--."""
    output = [
        "support has 0 calls (max unlimited) in 'rrmemory' strategy",
        "   Members: ",
        "",
        "   No Callers",
        "",
        "sales: x",
    ]
    body = "Response: Follows\r\nPrivilege: Command\r\n" + "".join(line + "\r\n" for line in output)
    data = (body + "--END COMMAND--\r\n\r\n").encode() + b"Event: After\r\n\r\n"
    for chunks in ([data], split(data, range(1, len(data)))):
        frames, errors, _ = parse(chunks, expect_banner=False)
        assert errors == []
        assert [f.name for f in frames] == ["Follows", "After"]
        assert frames[0].output == tuple(output)
        assert frames[0].size == len(data) - len(b"Event: After\r\n\r\n")


def test_old_form_output_without_end_marker_ends_at_its_blank_line() -> None:
    """Without --END COMMAND-- before EOF the Follows frame is its first block; what follows still parses."""
    data = b"Response: Follows\r\nPrivilege: Command\r\nline one\r\n\r\nEvent: Next\r\nA: b\r\n\r\n"
    frames, errors, _ = parse([data], expect_banner=False)
    assert [(f.name, f.output) for f in frames] == [("Follows", ("line one",)), ("Next", ())]
    assert errors == []


def test_new_form_command_output_from_transcript() -> None:
    """Asterisk 14+ Output: headers become Frame.output and stay in fields."""
    command = next(f for f in WHOLE if f.action_id == "mon-00021")
    block = TRANSCRIPT[command.offset : command.offset + command.size].decode()
    expected = tuple(line[len("Output: ") :] for line in block.split("\r\n") if line.startswith("Output: "))
    assert command.get("Message") == "Command output follows"
    assert command.output == expected
    assert command.get_all("Output") == list(expected)
    assert expected[-1] == ""  # "Output: " with an empty value


# -- header lines ------------------------------------------------------------------------------------


def test_repeated_keys_are_kept_in_order() -> None:
    """Repeated keys stay in fields in order; get() returns the first, get_all() every one."""
    data = b"Event: X\r\nVariable: a=1\r\nOther: o\r\nVariable: b=2\r\n\r\n"
    frame = parse([data], expect_banner=False)[0][0]
    assert frame.fields == (("Event", "X"), ("Variable", "a=1"), ("Other", "o"), ("Variable", "b=2"))
    assert frame.get("Variable") == "a=1"
    assert frame.get_all("Variable") == ["a=1", "b=2"]
    assert frame["Other"] == "o" and "Other" in frame and "other" not in frame


def test_empty_values_and_colon_variants() -> None:
    """'Key: ' and 'Key:' are empty values; 'Key:value' splits at its colon; values keep their spaces."""
    data = b"Event: X\r\nPausedReason: \r\nState:\r\nTight:value\r\nSpaced:    Members: \r\n\r\n"
    frames, errors, _ = parse([data], expect_banner=False)
    assert errors == []
    assert frames[0].fields == (
        ("Event", "X"),
        ("PausedReason", ""),
        ("State", ""),
        ("Tight", "value"),
        ("Spaced", "   Members: "),
    )


def test_mixed_line_ends_parse_like_crlf() -> None:
    """\\r\\n and \\n line ends mixed within frames and terminators give the same headers, sizes by byte."""
    blocks = [b"Event: A\r\nK: 1\nL: 2\r\n\n", b"Event: B\nK: 3\n\r\n", b"Response: Success\r\nM: x\r\n\r\n"]
    frames, errors, _ = parse([b"".join(blocks)], expect_banner=False)
    assert errors == []
    assert [f.fields for f in frames] == [
        (("Event", "A"), ("K", "1"), ("L", "2")),
        (("Event", "B"), ("K", "3")),
        (("Response", "Success"), ("M", "x")),
    ]
    assert [(f.offset, f.size) for f in frames] == [(0, 22), (22, 16), (38, 27)]
    assert [f.size for f in frames] == [len(block) for block in blocks]


def test_frame_kinds_by_first_key() -> None:
    """Event/Response/Action (any case) set the kind; another first key is "unknown", named after it."""
    data = b"event: A\r\n\r\nRESPONSE: B\r\n\r\nAction: C\r\n\r\nChannel: D\r\nEvent: E\r\n\r\n"
    frames, _, _ = parse([data], expect_banner=False)
    assert [(f.kind, f.name) for f in frames] == [
        ("event", "A"),
        ("response", "B"),
        ("action", "C"),
        ("unknown", "Channel"),
    ]


# -- banner --------------------------------------------------------------------------------------------


def test_banner_is_yielded_before_any_frame_end() -> None:
    """The banner comes out as soon as its line ends: the server then waits for Login."""
    parser = AmiParser()
    parser.receive_data(b"Asterisk Call Manager/11.0.0\r\n")
    assert list(parser.frames_received()) == [Frame("banner", "Asterisk Call Manager/11.0.0", (), 0, 30)]
    assert parser.banner == "Asterisk Call Manager/11.0.0"


def test_banner_and_first_frame_in_one_read() -> None:
    """Banner and the first frame arriving together are both yielded (the first read is never thrown away)."""
    frames, errors, _ = parse([b"Asterisk Call Manager/1.3\nResponse: Success\nMessage: ok\n\n"])
    assert [(f.kind, f.name, f.offset) for f in frames] == [
        ("banner", "Asterisk Call Manager/1.3", 0),
        ("response", "Success", 26),
    ]
    assert errors == []


def test_other_greeting_is_the_banner_for_the_caller_to_judge() -> None:
    """With expect_banner, any first line without ':' is the banner, so a client can refuse a non-AMI peer."""
    frames, _, parser = parse([b"SSH-2.0-OpenSSH_9.6\r\n"])
    assert parser.banner == "SSH-2.0-OpenSSH_9.6"
    assert frames[0].kind == "banner"


def test_without_expect_banner_a_first_line_without_colon_is_malformed() -> None:
    """expect_banner=False: a bare first line is a malformed frame, and the next frame still parses."""
    frames, errors, _ = parse([b"hello\r\nEvent: X\r\n\r\nEvent: Y\r\n\r\n"], expect_banner=False)
    assert [f.name for f in frames] == ["Y"]
    assert [(type(e), e.offset) for e in errors] == [(MalformedFrame, 0)]
    assert "'hello'" in str(errors[0])


@pytest.mark.parametrize("line_start", [False, True], ids=["cut-mid-line", "cut-at-line-end"])
def test_banner_mid_stream_after_truncated_frame(line_start: bool) -> None:
    """A frame cut off by a new connection's banner is a TruncatedFrame; the banner and what follows parse."""
    start = WHOLE[40].offset
    cut = TRANSCRIPT.index(b"\r\n", start + 30) + 2 if line_start else start + 50
    second = TRANSCRIPT[:cut] + TRANSCRIPT
    for options in ({}, {"drop": drop_events([WHOLE[40].name])}):
        frames, errors, _ = parse([second], **options)
        assert [(type(e), e.offset, e.size) for e in errors] == [(TruncatedFrame, start, cut - start)]
        banner = next(f for f in frames if f.kind == "banner" and f.offset > 0)
        assert (banner.offset, banner.name) == (cut, "Asterisk Call Manager/11.0.0")
        again = [f for f in frames if f.offset >= cut]
        assert [(f.offset - cut, f.size, f.name) for f in again] == [
            (f.offset, f.size, f.name) for f in WHOLE if "drop" not in options or f.name != WHOLE[40].name
        ]


# -- errors and recovery -----------------------------------------------------------------------------


def test_eof_mid_frame_is_a_truncated_frame() -> None:
    """A frame cut by EOF is reported with its offset and size; frames before it are kept."""
    data = b"Event: A\r\n\r\nEvent: B\r\nKey: va"
    frames, errors, _ = parse([data], expect_banner=False)
    assert [f.name for f in frames] == ["A"]
    assert [(type(e), e.offset, e.size) for e in errors] == [(TruncatedFrame, 12, 17)]


def test_last_frame_without_blank_line_is_truncated() -> None:
    """A stream ending right after a frame's last line, without the blank line, truncates that frame."""
    frames, errors, _ = parse([b"Event: A\r\n\r\nEvent: B\r\n"], expect_banner=False)
    assert [f.name for f in frames] == ["A"]
    assert [(type(e), e.offset) for e in errors] == [(TruncatedFrame, 12)]


def test_malformed_line_skips_only_its_frame() -> None:
    """A line without ':' drops its frame with offset and excerpt; neighbours in the same read survive."""
    data = b"Event: A\r\n\r\nEvent: B\r\nthis is no header\r\nK: v\r\n\r\nEvent: C\r\n\r\n"
    frames, errors, _ = parse([data], expect_banner=False)
    assert [f.name for f in frames] == ["A", "C"]
    (error,) = errors
    assert isinstance(error, MalformedFrame) and not isinstance(error, TruncatedFrame)
    assert (error.offset, error.size, error.excerpt) == (12, 37, "this is no header")
    assert "malformed line at offset 22" in str(error)


@pytest.mark.parametrize("read", [1, 7, 4096, 1 << 20])
def test_oversize_frame_is_discarded_and_parsing_recovers(read: int) -> None:
    """A frame over max_frame is skipped whole, whatever the read size; the next frame keeps its offset."""
    big = b"Event: Big\r\n" + b"Filler: " + b"x" * 5000 + b"\r\n\r\n"
    data = b"Event: A\r\n\r\n" + big + b"Event: C\r\nK: v\r\n\r\n"
    frames, errors, _ = parse([data[i : i + read] for i in range(0, len(data), read)], max_frame=1000)
    assert [(f.name, f.offset) for f in frames] == [("A", 0), ("C", 12 + len(big))]
    assert [(type(e), e.offset) for e in errors] == [(FrameTooLarge, 12)]
    assert str(errors[0]) == "read more than 1000 bytes at offset 12 without a frame end, expected at most 1000"


@pytest.mark.parametrize("filler", [b"x" * 4096, b"Key: value\r\n" * 341])
def test_memory_stays_bounded_without_frame_ends(filler: bytes) -> None:
    """Megabytes without a blank line never hold more than max_frame plus one read; one error, then recovery."""
    parser = AmiParser(max_frame=65536, expect_banner=False)
    parser.receive_data(b"Event: Start\r\n")
    for _ in range(500):
        parser.receive_data(filler)
        assert parser.buffered <= 65536 + len(filler)
    parser.receive_data(b"\r\n\r\nEvent: Back\r\n\r\n")
    assert [type(e) for e in parser.errors()] == [FrameTooLarge]
    assert [f.name for f in parser.frames_received()] == ["Back"]
    assert parser.buffered == 0


def test_data_after_eof_is_misuse() -> None:
    """receive_data() after receive_eof() raises RuntimeError; a second receive_eof() is harmless."""
    parser = AmiParser()
    parser.receive_eof()
    parser.receive_eof()
    with pytest.raises(RuntimeError, match="after receive_eof"):
        parser.receive_data(b"Event: X\r\n\r\n")


# -- frames ----------------------------------------------------------------------------------------------


def test_frame_is_frozen_and_validated() -> None:
    """Frames cannot be changed after parsing and cannot be built with an unknown kind."""
    frame = WHOLE[1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.name = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="kind"):
        Frame("bogus", "x")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        frame["NoSuchKey"]
    assert frame.get("NoSuchKey", "dflt") == "dflt"
    renamed = dataclasses.replace(frame, name="Other")
    assert (renamed.name, renamed.fields, renamed == frame) == ("Other", frame.fields, False)


def test_frames_and_errors_are_drained() -> None:
    """frames_received() and errors() return what is ready once; a second call is empty."""
    parser = AmiParser(expect_banner=False)
    parser.receive_data(b"Event: A\r\n\r\nbad\r\n\r\n")
    assert len(list(parser.frames_received())) == 1 and len(list(parser.errors())) == 1
    assert list(parser.frames_received()) == [] and list(parser.errors()) == []


# -- drop predicates ------------------------------------------------------------------------------------

QUEUESTATUS = (
    b"Event: VarSet\r\nPrivilege: dialplan,all\r\nChannel: Local/100@queues-00000001;2\r\n"
    b"Variable: QUEUESTATUS\r\nValue: TIMEOUT\r\nUniqueid: 1795350800.1\r\n\r\n"
)
LOOKALIKE = QUEUESTATUS.replace(b"Variable: QUEUESTATUS", b"Variable: QUEUESTATUSX")


def test_drop_events_drops_varsets_but_keeps_queuestatus() -> None:
    """Dropped = the VarSet/Newexten frames counted by hand; the QUEUESTATUS VarSet is still parsed."""
    data = TRANSCRIPT + QUEUESTATUS
    blocks = data.split(b"\r\n\r\n")
    by_hand = Counter(block.split(b"\r\n", 1)[0] for block in blocks)
    expected = by_hand[b"Event: VarSet"] + by_hand[b"Event: Newexten"] - 1  # minus the QUEUESTATUS one
    assert expected > 1000
    predicate = drop_events({"VarSet", "Newexten"}, keep_if={"VarSet": b"Variable: QUEUESTATUS"})
    frames, errors, parser = parse([data], drop=predicate)
    assert parser.dropped == expected
    assert len(frames) == len(WHOLE) + 1 - expected
    assert [f.get("Value") for f in frames if f.name == "VarSet"] == ["TIMEOUT"]
    assert not any(f.name == "Newexten" for f in frames) and errors == []


def test_keep_varset_matches_the_variable_exactly() -> None:
    """keep_varset keeps QUEUESTATUS but not QUEUESTATUSX; a keep_if needle keeps both (substring)."""
    data = QUEUESTATUS + LOOKALIKE + QUEUESTATUS.replace(b"\r\n", b"\n")
    exact = parse([data], expect_banner=False, drop=drop_events(["VarSet"], keep_varset=["QUEUESTATUS"]))
    assert [f["Variable"] for f in exact[0]] == ["QUEUESTATUS", "QUEUESTATUS"]
    assert exact[2].dropped == 1
    loose = parse([data], expect_banner=False, drop=drop_events(["VarSet"], keep_if={"VarSet": b"QUEUESTATUS"}))
    assert len(loose[0]) == 3 and loose[2].dropped == 0


def test_drop_predicate_sees_only_whole_frames() -> None:
    """The predicate is called once per complete frame with its raw bytes, terminator included."""
    seen: list[bytes] = []

    def spy(raw: bytes) -> bool:
        seen.append(raw)
        return False

    data = b"Event: A\r\n\r\nEvent: B\nX: y\n\n"
    parse(split(data, [3, 15]), expect_banner=False, drop=spy)
    assert seen == [b"Event: A\r\n\r\n", b"Event: B\nX: y\n\n"]


# -- lists -----------------------------------------------------------------------------------------------


def assemble(frames: Iterable[Frame], assembler: ListAssembler | None = None) -> tuple[list[ListResult], list[Frame]]:
    assembler = assembler or ListAssembler()
    results: list[ListResult] = []
    passed: list[Frame] = []
    for frame in frames:
        if not assembler.owns(frame):
            passed.append(frame)
            assert assembler.feed(frame) is None
            continue
        result = assembler.feed(frame)
        if result is not None:
            results.append(result)
    return results, passed


def test_list_assembler_groups_asterisk_12_lists() -> None:
    """Each EventList: start response collects the events with its ActionID until the Complete event."""
    results, passed = assemble(WHOLE)
    assert len(results) == TRANSCRIPT.count(b"EventList: start\r\n") == 19
    for result in results:
        tagged = TRANSCRIPT.count(b"ActionID: " + result.action_id.encode() + b"\r\n")
        assert len(result.items) == tagged - 2  # minus the response and the Complete event
        assert all(item.action_id == result.action_id for item in result.items)
        assert result.complete is not None and result.complete.name in ("QueueStatusComplete", "QueueSummaryComplete")
        assert result.response.get("EventList") == "start"
    assert len(passed) == len(WHOLE) - sum(len(r.items) + 2 for r in results)
    assert not any(f.action_id in {r.action_id for r in results} for f in passed)


def test_list_assembler_groups_pre_12_lists() -> None:
    """Asterisk 11: "Queue status will follow" opens the list, QueueStatusComplete closes it."""
    data = (PUBLIC / "panoramisk_queue_status.ami").read_bytes()
    frames, _, _ = parse([data])
    (result,), passed = assemble(frames)
    assert passed == []
    assert result.action_id == "action/transaction_uid/1/1"
    assert [i.name for i in result.items] == ["QueueParams"] + ["QueueMember"] * data.count(b"Event: QueueMember\n")
    assert result.complete is not None and result.complete.name == "QueueStatusComplete"
    assert not result.truncated


def _response(action_id: str) -> Frame:
    fields = (("Response", "Success"), ("ActionID", action_id), ("EventList", "start"))
    return Frame("response", "Success", fields)


def _item(action_id: str, name: str = "QueueMember") -> Frame:
    return Frame("event", name, (("Event", name), ("ActionID", action_id)))


def test_list_assembler_ignores_other_frames() -> None:
    """Errors, plain successes and events of unknown ActionIDs are not owned and not consumed."""
    assembler = ListAssembler()
    others = [
        Frame("response", "Error", (("Response", "Error"), ("ActionID", "1"), ("Message", "Permission denied"))),
        Frame("response", "Success", (("Response", "Success"), ("ActionID", "2"), ("Message", "Added"))),
        _item("3"),
        Frame("event", "QueueMember", (("Event", "QueueMember"),)),
    ]
    assert [assembler.owns(f) for f in others] == [False] * 4
    assert [assembler.feed(f) for f in others] == [None] * 4
    assert assembler.open_lists == 0


def test_list_assembler_bounds_open_lists() -> None:
    """Opening more than max_lists cuts the oldest short (complete=None) and swallows its stragglers."""
    assembler = ListAssembler(max_lists=2)
    assert assembler.feed(_response("a")) is None
    assert assembler.feed(_item("a")) is None
    assert assembler.feed(_response("b")) is None
    evicted = assembler.feed(_response("c"))
    assert evicted is not None and (evicted.action_id, len(evicted.items), evicted.truncated) == ("a", 1, True)
    assert assembler.owns(_item("a")) and assembler.feed(_item("a")) is None
    assert assembler.feed(_item("a", "QueueStatusComplete")) is None
    assert not assembler.owns(_item("a"))
    assert assembler.open_lists == 2


def test_list_assembler_bounds_items() -> None:
    """Past max_items pending items the list is returned cut short; its closing event is swallowed."""
    assembler = ListAssembler(max_items=3)
    assembler.feed(_response("a"))
    assert [assembler.feed(_item("a")) for _ in range(3)] == [None] * 3
    cut = assembler.feed(_item("a"))
    assert cut is not None and (len(cut.items), cut.complete) == (3, None)
    assert assembler.feed(_item("a", "QueueStatusComplete")) is None
    assembler.feed(_response("b"))
    assert assembler.feed(_item("b")) is None  # the budget was given back
    done = assembler.feed(Frame("event", "X", (("Event", "X"), ("ActionID", "b"), ("EventList", "Complete"))))
    assert done is not None and len(done.items) == 1 and done.complete is not None


def test_list_assembler_reset_drops_open_lists() -> None:
    """reset() (new banner) returns the open lists cut short and forgets them."""
    assembler = ListAssembler()
    assembler.feed(_response("a"))
    assembler.feed(_item("a"))
    (abandoned,) = assembler.reset()
    assert (abandoned.action_id, len(abandoned.items), abandoned.complete) == ("a", 1, None)
    assert assembler.open_lists == 0 and not assembler.owns(_item("a"))


# -- actions ---------------------------------------------------------------------------------------------


def test_encode_action_round_trips_through_the_parser() -> None:
    """An encoded action is CRLF text ending in a blank line that parses back to the same headers."""
    fields = [("Channel", "Local/100@queues"), ("Variable", "A=1"), ("Variable", "B=José")]
    data = encode_action("Originate", fields, action_id="wb-1")
    assert data.startswith(b"Action: Originate\r\nActionID: wb-1\r\n") and data.endswith(b"\r\n\r\n")
    frames, errors, _ = parse([data], expect_banner=False)
    assert errors == []
    assert (frames[0].kind, frames[0].name, frames[0].action_id) == ("action", "Originate", "wb-1")
    assert frames[0].fields == (("Action", "Originate"), ("ActionID", "wb-1"), *fields)
    assert encode_action("Ping", {"Queue": "sales"}) == b"Action: Ping\r\nQueue: sales\r\n\r\n"


@pytest.mark.parametrize(
    ("action", "fields", "action_id"),
    [
        ("", {}, None),
        ("   ", {}, None),
        ("Ping\r\nAction: Logoff", {}, None),
        ("Ping", {"Queue": "x\r\nAction: Logoff"}, None),
        ("Ping", {"Que\nue": "x"}, None),
        ("Ping", {}, "1\nAction: Logoff"),
        ("Ping", {"": "x"}, None),
        ("Ping", {"A:B": "x"}, None),
        ("Ping", {"actionid": "2"}, "1"),
        ("Ping", {"Action": "Logoff"}, None),
    ],
)
def test_encode_action_rejects_header_injection(action: str, fields: dict[str, str], action_id: str | None) -> None:
    """CR/LF anywhere, empty names, ':' in keys and a second Action/ActionID raise ValueError."""
    with pytest.raises(ValueError):
        encode_action(action, fields, action_id=action_id)


# -- property ---------------------------------------------------------------------------------------------

TOKENS = [
    b"Event: VarSet",
    b"Response: Follows",
    b"Response: Success",
    b"Action: Ping",
    b"--END COMMAND--",
    b"Asterisk Call Manager/1.3",
    b"Key: value",
    b"Key:",
    b"EventList: start",
    b"garbage",
    b" ",
    b"\r\n",
    b"\n",
    b"\r",
    b"\r\n\r\n",
    "é".encode(),
    b"\xc3",
    b"\xff",
]
streams = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=8)), max_size=40).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(
    data=streams,
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
    tiny=st.booleans(),
    banner=st.booleans(),
)
def test_any_bytes_in_any_chunking_parse_the_same(data: bytes, cuts: list[int], tiny: bool, banner: bool) -> None:
    """Any bytes give Frames and ProtocolErrors only, never another exception, identically in any chunking."""
    options: dict[str, object] = {
        "max_frame": 64 if tiny else 65536,
        "expect_banner": banner,
        "drop": drop_events(["VarSet"], keep_varset=["X"]),
    }
    whole = parse([data], **options)
    chunked = parse(split(data, [c for c in cuts if c <= len(data)]), **options)
    assert chunked[0] == whole[0]
    assert signature(chunked[1]) == signature(whole[1])
    assert chunked[2].dropped == whole[2].dropped
    assert all(isinstance(f, Frame) for f in whole[0])
    assert all(isinstance(e, ProtocolError) for e in whole[1])
    spans = sorted([(f.offset, f.size) for f in whole[0]] + [(e.offset, e.size) for e in whole[1]])
    assert all(a + size <= b for (a, size), (b, _) in zip(spans, spans[1:], strict=False))


@pytest.mark.parametrize("tiny", [True, False])
@pytest.mark.parametrize("cut", [1, 22, 31, 60])
def test_a_banner_line_with_a_colon_is_a_banner_in_any_chunking(tiny: bool, cut: int) -> None:
    """A first line starting ``Asterisk Call Manager/`` is a banner whatever follows it (a colon too) and whether it
    arrives whole or cut (hypothesis found a read cut after the colon making it a banner only when chunked)."""
    data = b"Asterisk Call Manager/1.3Event: VarSetEvent: VarSetAction: Ping\r\n"
    options: dict[str, object] = {"max_frame": 64 if tiny else 65536, "expect_banner": True}
    whole = parse([data], **options)
    chunked = parse(split(data, [cut]), **options)
    assert chunked[0] == whole[0] and signature(chunked[1]) == signature(whole[1])
    assert [frame.kind for frame in whole[0]] == ["banner"] and whole[2].banner == data.decode().strip()
