"""Name pools and the time-of-day profile of the simulated contact center (pure data, seeded choices).

Agent names mix plain ASCII with the raw UTF-8 names real PBXs carry (``José Álvarez``,
``Zoë O'Neill``: an apostrophe and non-ASCII letters in one member name). Caller names
include the values a PSTN trunk really delivers: empty, ``UNKNOWN``, ``WIRELESS CALLER``.

The day profile is a list of (local hour, relative arrival rate) points, linearly
interpolated and wrapping at midnight: a morning ramp, a lunch dip and an afternoon peak.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections.abc import Sequence

FIRST_NAMES: tuple[str, ...] = (
    "Alice", "Bob", "Chen", "Dana", "Emeka", "Fatima", "Grace", "José", "Zoë", "Björn",
    "Chloé", "Darius", "Elif", "François", "Gabriela", "Hiroshi", "Ingrid", "Jürgen", "Kateřina", "Lars",
    "María", "Nikolai", "Oksana", "Paulo", "Quentin", "Rania", "Søren", "Thandiwe", "Umar", "Valérie",
    "Wojciech", "Xiu", "Yasmin", "Zoltán", "Aoife", "Bongani", "Camille", "Dmitri", "Esra", "Felipe",
)  # fmt: skip

LAST_NAMES: tuple[str, ...] = (
    "Nguyen", "Martinez", "Wei", "O'Brien", "Okafor", "Zahra", "Kim", "Álvarez", "O'Neill", "Müller",
    "Dubois", "Kowalski", "Yılmaz", "Novák", "Sørensen", "Tanaka", "García", "Ivanova", "Mbeki", "D'Angelo",
    "Lefèvre", "Popescu", "Haddad", "Santos", "Lindqvist", "Ferreira", "Nakamura", "Schröder", "Costa", "Petrović",
)  # fmt: skip

CALLER_NAMES: tuple[str, ...] = (
    "Maria Garcia", "Sam Lee", "Li Na", "John Smith", "Ana Souza", "Omar Farouk", "Élodie Martin",
    "Ren Tanaka", "Priya Patel", "Jan de Vries", "Noor Khan", "Lucía Pérez", "Tom O'Connor", "Aylin Demir",
)  # fmt: skip

#: Caller names a trunk delivers when it does not know the caller (quirk 10).
ANONYMOUS_CALLER_NAMES: tuple[str, ...] = ("", "UNKNOWN", "WIRELESS CALLER")

BASE_QUEUES: tuple[str, ...] = ("support", "sales", "billing", "tech", "retention", "vip", "claims", "onboarding")

#: (local hour, relative arrival rate); rate 1.0 is the afternoon peak.
DAY_PROFILE: tuple[tuple[float, float], ...] = (
    (0.0, 0.04), (6.5, 0.04), (7.5, 0.12), (8.5, 0.4), (9.5, 0.62), (10.5, 0.85), (11.5, 0.85), (12.25, 0.6),
    (13.25, 0.65), (14.5, 0.95), (15.25, 1.0), (16.25, 0.8), (17.25, 0.55), (18.5, 0.35), (19.5, 0.18),
    (21.0, 0.08), (24.0, 0.04),
)  # fmt: skip


def agent_names(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct "First Last" names; the first two are always the non-ASCII examples."""
    names = ["José Álvarez", "Zoë O'Neill"][:count]
    pairs = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(pairs)
    for pair in pairs:
        if len(names) >= count:
            break
        if pair not in names:
            names.append(pair)
    suffix = 2
    while len(names) < count:
        names.append(f"{pairs[len(names) % len(pairs)]} {suffix}")
        suffix += 1
    return names


def queue_names(count: int) -> list[str]:
    """The first ``count`` queue names: the usual ones, then ``queue09``, ``queue10``, ..."""
    names = list(BASE_QUEUES[:count])
    names.extend(f"queue{index:02d}" for index in range(len(names) + 1, count + 1))
    return names


def caller_identity(rng: random.Random) -> tuple[str, str]:
    """A caller's (number, name): a 10-digit number; one caller in ten has no usable name."""
    number = f"{rng.randint(201, 989)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
    if rng.random() < 0.1:
        return number, rng.choice(ANONYMOUS_CALLER_NAMES)
    return number, rng.choice(CALLER_NAMES)


def profile_rate(hour: float, profile: Sequence[tuple[float, float]] = DAY_PROFILE) -> float:
    """The relative arrival rate at a local hour of day (0 <= hour < 24), linearly interpolated."""
    hours = [point[0] for point in profile]
    index = bisect_right(hours, hour % 24.0)
    if index == 0:
        return profile[0][1]
    if index >= len(profile):
        return profile[-1][1]
    (h0, r0), (h1, r1) = profile[index - 1], profile[index]
    if h1 == h0:
        return r1
    return r0 + (r1 - r0) * (hour % 24.0 - h0) / (h1 - h0)
