"""Tests for wallboard/core/backoff.py: growth, jitter bounds, cap, reset."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallboard.core.backoff import Backoff


def test_without_jitter_delays_double_up_to_the_cap() -> None:
    """With jitter 0 the delays are initial * 2**n, clamped at the cap."""
    backoff = Backoff(initial=0.5, factor=2.0, cap=3.0, jitter=0.0)
    assert [next(backoff) for _ in range(6)] == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_reset_starts_again_from_the_initial_delay() -> None:
    """After reset() the next delay is the initial one again."""
    backoff = Backoff(initial=0.25, cap=10.0, jitter=0.0)
    for _ in range(5):
        next(backoff)
    assert backoff.attempt == 5
    backoff.reset()
    assert backoff.attempt == 0
    assert next(backoff) == 0.25


def test_same_seed_gives_same_delays() -> None:
    """The random source is injectable: two backoffs with the same seed agree."""
    first = Backoff(rng=random.Random(7))
    second = Backoff(rng=random.Random(7))
    assert [next(first) for _ in range(10)] == [next(second) for _ in range(10)]


def test_jitter_spreads_the_delays() -> None:
    """With jitter, clients that failed together do not all wait the same time."""
    delays = {next(Backoff(initial=1.0, rng=random.Random(seed))) for seed in range(20)}
    assert len(delays) > 10


def test_huge_attempt_counts_stay_at_the_cap() -> None:
    """A factor whose powers overflow a float still yields the cap, not an error."""
    backoff = Backoff(initial=1.0, factor=1e10, cap=60.0, jitter=0.0)
    assert [next(backoff) for _ in range(40)][-1] == 60.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial": 0.0}, "initial delay must be > 0"),
        ({"factor": 0.5}, "factor must be >= 1"),
        ({"initial": 2.0, "cap": 1.0}, "cap must be >= the initial delay"),
        ({"jitter": 1.5}, "jitter must be between 0 and 1"),
    ],
)
def test_invalid_parameters_are_rejected(kwargs: dict[str, float], message: str) -> None:
    """Nonsense parameters raise ValueError saying what was read."""
    with pytest.raises(ValueError, match=message):
        Backoff(**kwargs)  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    initial=st.floats(min_value=0.001, max_value=5.0),
    factor=st.floats(min_value=1.0, max_value=10.0),
    extra_cap=st.floats(min_value=0.0, max_value=100.0),
    jitter=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32),
    count=st.integers(min_value=1, max_value=80),
)
def test_every_delay_lies_within_the_jitter_band_of_its_nominal(
    initial: float, factor: float, extra_cap: float, jitter: float, seed: int, count: int
) -> None:
    """Delay n is in [nominal*(1-jitter), nominal] with nominal = min(cap, initial*factor**n): never above the cap."""
    cap = initial + extra_cap
    backoff = Backoff(initial=initial, factor=factor, cap=cap, jitter=jitter, rng=random.Random(seed))
    nominal = initial
    for _ in range(count):
        delay = next(backoff)
        assert nominal * (1 - jitter) - 1e-12 <= delay <= nominal + 1e-12
        assert 0 < delay <= cap + 1e-12
        nominal = min(cap, nominal * factor)
