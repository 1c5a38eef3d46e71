"""A fake FreeSWITCH event socket playing the real light run (tests/fixtures/freeswitch-light), for collector tests.

FreeSWITCH cannot run here (no Debian package), so the peer is a small asyncio server speaking mod_event_socket's
inbound protocol: ``auth/request``, ``command/reply`` to ``auth`` and ``event``, ``api/response`` to the
``callcenter_config`` lists with the real replies of the run's control connection, then the real
``callcenter::info`` frames of the run, byte for byte. The agent list at the start is the real reply with every
status ``Logged Out`` (the run's agents all started logged out; its control connection listed them only at the end).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

from fixture_paths import FREESWITCH

from collectors.esl.protocol import EslParser

PASSWORD = "WallboardTest"
MEMBERS_HEADER = (
    "queue|instance_id|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|rejoined_epoch|bridge_epoch|"
    "abandoned_epoch|base_score|skill_score|serving_agent|serving_system|state|score"
)
WAIT_S = 20.0


@cache
def control_replies() -> dict[str, bytes]:
    """The control connection's last reply to each command it sent, as raw frame bytes."""
    replies: dict[str, bytes] = {}
    command = None
    chunk: list[bytes] = []
    for line in (FREESWITCH / "esl_control_transcript.txt").read_bytes().split(b"\n"):
        if line.startswith(b">>> "):
            if command is not None:
                replies[command] = b"\n".join(chunk).lstrip(b"\n") + b"\n"
            command, chunk = line[4:].decode(), []
        else:
            chunk.append(line)
    return replies


def reply_text(command: str) -> str:
    parser = EslParser()
    parser.receive_data(control_replies()[command])
    return parser.frames_received()[0].text


def api_response(text: str) -> bytes:
    body = text.encode()
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body


@cache
def cc_frames() -> list[bytes]:
    """The raw bytes of every callcenter::info frame of the run, in order."""
    data = (FREESWITCH / "esl_transcript.txt").read_bytes()
    parser = EslParser()
    parser.receive_data(data)
    return [data[f.offset : f.offset + f.size] for f in parser.frames_received() if f.name == "callcenter::info"]


class FakeFreeSwitch:
    """Plays the capture's events over as many connections as ``cuts`` says (each ends after its share)."""

    def __init__(self, cuts: list[int]) -> None:
        self.cuts = cuts  # the number of frames each connection sends before closing (the last: all that is left)
        self.sent = 0
        self.connections = 0
        self.commands: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        share = self.cuts[self.connections - 1] if self.connections <= len(self.cuts) else len(cc_frames())
        writer.write(b"Content-Type: auth/request\n\n")
        subscribed = False
        try:
            while True:
                line = (await reader.readuntil(b"\n\n")).decode().strip()
                self.commands.append(line)
                if line.startswith("auth "):
                    if line != f"auth {PASSWORD}":
                        writer.write(b"Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
                        await writer.drain()
                        return
                    writer.write(b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
                elif line.startswith("event "):
                    writer.write(b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
                    subscribed = True
                elif line.startswith("api "):
                    writer.write(api_response(self.answer(line[4:])))
                    if line.startswith("api callcenter_config queue list members billing") and subscribed:
                        await writer.drain()
                        end = min(len(cc_frames()), self.sent + share)
                        for frame in cc_frames()[self.sent : end]:
                            writer.write(frame)
                        self.sent = end
                        await writer.drain()
                        if self.connections <= len(self.cuts):
                            return  # the connection drops after its share
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            writer.close()

    def answer(self, command: str) -> str:
        """The run's reply to ``api <command>`` (members of a queue the run did not list: none waiting)."""
        if command == "callcenter_config agent list" and self.connections == 1:
            return reply_text(f"api {command}").replace("|Available|", "|Logged Out|")
        if f"api {command}" in control_replies():
            return reply_text(f"api {command}")
        if command.startswith("callcenter_config queue list members "):
            return MEMBERS_HEADER + "\n+OK\n"
        return "+OK\n"


@asynccontextmanager
async def fake_freeswitch(cuts: list[int]) -> AsyncIterator[tuple[FakeFreeSwitch, int]]:
    fake = FakeFreeSwitch(cuts)
    server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield fake, port
    finally:
        server.close()
        await server.wait_closed()


def truth() -> dict[str, dict[str, int]]:
    """The run's outcomes per queue (ground_truth.json)."""
    queues = json.loads((FREESWITCH / "ground_truth.json").read_text())["queues"]
    return {
        q: {f: v[f] for f in ("offered", "answered", "abandoned", "timed_out", "unknown")} for q, v in queues.items()
    }
