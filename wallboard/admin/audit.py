"""Audit entries: flat string fields ``ts, actor, action, target, old, new`` (``old``/``new`` as JSON).

An entry never holds a password, a hash or a token: the callers (``wallboard.admin.accounts`` and the
other use cases) choose what ``old`` and ``new`` say.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

AUDIT_SCAN_LIMIT = 20_000  # audit entries read at most to answer one filtered query


def audit_entry(ts: datetime, actor: str, action: str, target: str, old: Any = None, new: Any = None) -> dict[str, str]:
    """The fields of one audit entry (``old``/``new`` as JSON; the caller keeps secrets out of them)."""
    return {
        "ts": ts.isoformat(),
        "actor": actor,
        "action": action,
        "target": target,
        "old": json.dumps(old, separators=(",", ":"), sort_keys=True),
        "new": json.dumps(new, separators=(",", ":"), sort_keys=True),
    }


def read_entry(entry_id: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """An audit entry as the API shows it: its id, the fields, ``old``/``new`` decoded."""
    entry: dict[str, Any] = {"id": entry_id, **{k: fields.get(k, "") for k in ("ts", "actor", "action", "target")}}
    for key in ("old", "new"):
        try:
            entry[key] = json.loads(fields.get(key, "null"))
        except ValueError:
            entry[key] = fields.get(key)
    return entry
