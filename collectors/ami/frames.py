"""The AMI frame model, shared by both directions: ``Frame`` (what the parser yields) and ``encode_action()``.

``Frame`` is built once per frame on the parser's hot path, so its constructor writes the slots
through their descriptors (see ``_setter``) and builds the header index only on the first lookup.
``encode_action()`` is the other direction: an action as bytes, refusing header injection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

__all__ = ["Frame", "FrameKind", "encode_action"]

FrameKind = Literal["banner", "event", "response", "action", "unknown"]

_FRAME_KINDS = frozenset(("banner", "event", "response", "action", "unknown"))


@dataclass(frozen=True, slots=True, init=False)
class Frame:
    """One AMI frame, or the banner (``kind="banner"``, ``name`` = the banner text, no fields)."""

    kind: FrameKind
    name: str
    fields: tuple[tuple[str, str], ...]
    offset: int
    size: int
    output: tuple[str, ...]
    _index: dict[str, str] | None = field(init=False, repr=False, compare=False, hash=False)

    def __init__(
        self,
        kind: FrameKind,
        name: str,
        fields: tuple[tuple[str, str], ...] = (),
        offset: int = 0,
        size: int = 0,
        output: tuple[str, ...] = (),
    ) -> None:
        if kind not in _FRAME_KINDS:
            raise ValueError(f"frame kind {kind!r} is not one of {sorted(_FRAME_KINDS)}")
        # Slot descriptors write past the frozen __setattr__: about 4x faster than object.__setattr__.
        _SET_KIND(self, kind)
        _SET_NAME(self, name)
        _SET_FIELDS(self, fields)
        _SET_OFFSET(self, offset)
        _SET_SIZE(self, size)
        _SET_OUTPUT(self, output)
        _SET_INDEX(self, None)

    def _lookup(self) -> dict[str, str]:
        index = self._index
        if index is None:
            index = dict(reversed(self.fields))  # reversed: the first of repeated keys wins
            _SET_INDEX(self, index)
        return index

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of header ``key`` (exact key), else ``default``."""
        return self._lookup().get(key, default)

    def __getitem__(self, key: str) -> str:
        return self._lookup()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._lookup()

    def get_all(self, key: str) -> list[str]:
        """Every value of header ``key`` in order (repeated keys such as ``Output`` or ``Variable``)."""
        return [value for k, value in self.fields if k == key]

    @property
    def action_id(self) -> str | None:
        """``ActionID``; also found lower-cased (``actionid``), as in captured actions."""
        value = self._lookup().get("ActionID")
        if value is None and self.kind == "action":
            value = next((v for k, v in self.fields if k.lower() == "actionid"), None)
        return value


def _setter(name: str) -> Callable[[Frame, Any], None]:
    return cast(Callable[[Frame, Any], None], vars(Frame)[name].__set__)


_SET_KIND = _setter("kind")
_SET_NAME = _setter("name")
_SET_FIELDS = _setter("fields")
_SET_OFFSET = _setter("offset")
_SET_SIZE = _setter("size")
_SET_OUTPUT = _setter("output")
_SET_INDEX = _setter("_index")


# -- actions ----------------------------------------------------------------------------------------


def _check(what: str, text: str) -> None:
    if "\r" in text or "\n" in text:
        raise ValueError(f"AMI {what} {text!r} contains CR or LF (header injection)")


def encode_action(
    action: str, fields: Mapping[str, str] | Iterable[tuple[str, str]] = (), *, action_id: str | None = None
) -> bytes:
    """``Action: <action>``, ``ActionID`` when given, then ``fields`` in order, as CRLF bytes ending in a blank line.

    Raises ``ValueError`` for an empty action name, an empty key or one holding ':', a second
    ``Action`` or ``ActionID`` header, or any key or value holding CR or LF.
    """
    if not action.strip():
        raise ValueError("AMI action name is empty")
    _check("action name", action)
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    lines = [f"Action: {action}"]
    if action_id is not None:
        _check("ActionID", action_id)
        lines.append(f"ActionID: {action_id}")
    for key, value in pairs:
        _check("header key", key)
        _check(f"value of {key!r}", value)
        if not key.strip() or ":" in key:
            raise ValueError(f"AMI header key {key!r} is empty or contains ':'")
        lowered = key.lower()
        if lowered == "action" or (lowered == "actionid" and action_id is not None):
            raise ValueError(f"AMI header {key!r} given twice (as a field and as an argument)")
        lines.append(f"{key}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode("utf-8")
