"""Paths of the captured PBX output in tests/fixtures (each folder's PROVENANCE.md says what and whence)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LIGHT = FIXTURES / "asterisk22-light"  # a real Asterisk 22.10.1 run: AMI transcripts, queue_log, ground truth
ASTERISK_ETC = FIXTURES / "asterisk22-etc"  # the queues.conf, manager.conf, extensions.conf of that run
PUBLIC = FIXTURES / "public"  # panoramisk AMI streams (Asterisk 11) and an asterisk2slack queue_log
FREESWITCH = (
    FIXTURES / "freeswitch-light"
)  # a real FreeSWITCH 1.10.12 mod_callcenter run: ESL transcripts, ground truth
