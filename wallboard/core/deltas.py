"""Snapshot deltas: the changes that turn one JSON-like dict into another, and applying them. Pure.

Theory of operation
-------------------
The engine's snapshot (``wallboard.core.snapshots``) is a tree of dicts; the runner publishes what changed
between two snapshots and clients patch their copy. :func:`diff` is a JSON merge patch (RFC 7396) made
exact: ``None`` means "removed", a dict merges recursively, and a value that is ``None`` or a list is
wrapped in a one-element list (``[value]``: "set verbatim"). :func:`apply_diff` is its inverse:
``apply_diff(old, diff(old, new)) == new`` for any JSON-like dicts. Unchanged subtrees are pruned with
one C-speed ``==`` each, so a diff costs what changed, not what the snapshot holds.

Errors: :class:`DiffError` for a change that is not a delta.
"""

from __future__ import annotations

from typing import Any

from wallboard.errors import WallboardError

__all__ = ["DiffError", "apply_diff", "diff"]


class DiffError(WallboardError):
    """A delta cannot be applied: the message says what was read and what was expected."""


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The changes that turn ``old`` into ``new``: a JSON merge patch (RFC 7396) made exact.

    * a key of ``old`` missing from ``new`` maps to ``None`` (removed);
    * a dict that was a dict maps to the (non-empty) diff of the two;
    * any other changed value maps to itself, except ``None`` and lists, which are wrapped in a
      one-element list ``[value]`` ("set verbatim"): a bare ``None`` means "removed", and wrapping
      every list keeps the rule simple for clients;
    * a dict where there was none (or a non-dict) maps to ``diff({}, value)``.

    Values are compared with ``==`` (a C-speed deep compare prunes unchanged subtrees) plus, at the
    changed key, their type: ``1`` -> ``1.0`` or ``True`` is a change, inside an otherwise equal list
    or dict it is not (the engine's snapshot fields each have one type, so this never matters there).
    ``apply_diff(old, diff(old, new)) == new`` for any JSON-like dicts. A client without this module:
    ``null`` -> delete the key; array -> set its only element; object -> merge recursively into the
    existing object (or into ``{}``); anything else -> set.
    """
    changes: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        if key in old:
            before = old[key]
            if type(before) is type(value) and before == value:
                continue
            if isinstance(value, dict) and isinstance(before, dict):
                nested = diff(before, value)
                if nested:
                    changes[key] = nested
                continue
        changes[key] = _encode(value)
    return changes


def apply_diff(old: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``old`` with ``changes`` (from ``diff``) applied, as a new dict; ``old`` is not modified.

    Unchanged nested values are shared with ``old``. Raises ``DiffError`` for a list that is not a
    one-element wrapper.
    """
    result = dict(old)
    for key, change in changes.items():
        if change is None:
            result.pop(key, None)
        elif isinstance(change, dict):
            base = result.get(key)
            result[key] = apply_diff(base if isinstance(base, dict) else {}, change)
        elif isinstance(change, list):
            if len(change) != 1:
                raise DiffError(f"change of {key!r} is a list of {len(change)} items, expected exactly 1 ([value])")
            result[key] = change[0]
        else:
            result[key] = change
    return result


def _encode(value: Any) -> Any:
    if isinstance(value, dict):
        return diff({}, value)
    if value is None or isinstance(value, list):
        return [value]
    return value
