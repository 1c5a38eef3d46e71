"""A Store whose events section is a test double: a process killed at a given step, a lost reply...

The runner talks to Redis through ``Store.events`` (the event stream, the snapshot + checkpoint MULTI,
deltas, health); a test subclasses ``StreamStore`` to fail one of those steps and builds the store with
``store_with(ThatClass)``.
"""

from __future__ import annotations

from typing import Any

from wallboard.store import Client, Store
from wallboard.store.streams import StreamStore


def store_with(events: type[StreamStore]) -> type[Store]:
    """A Store class whose ``events`` section is ``events`` (built with the same client and site)."""

    class Composed(Store):
        def __init__(self, client: Client, **kwargs: Any) -> None:
            super().__init__(client, **kwargs)
            self.events = events(client, **kwargs)

    Composed.__name__ = f"StoreWith{events.__name__}"
    return Composed
