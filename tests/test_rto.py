"""The retransmission timer of harness/rto.py against RFC 6298's rules."""

from __future__ import annotations

import pytest

from harness.rto import RetransmitTimer


def timer() -> RetransmitTimer:
    return RetransmitTimer(initial=5.0, minimum=0.2, maximum=4.0)


def test_initial_value_until_the_first_sample_then_srtt_plus_four_rttvar() -> None:
    t = timer()
    assert t.timeout == 4.0  # the initial 5 s, within the maximum
    t.sample(0.4)
    assert (t.srtt, t.rttvar) == (0.4, 0.2)
    assert t.timeout == pytest.approx(0.4 + 4 * 0.2)
    t.sample(0.8)
    assert t.rttvar == pytest.approx(0.75 * 0.2 + 0.25 * 0.4)
    assert t.srtt == pytest.approx(0.875 * 0.4 + 0.125 * 0.8)


def test_steady_quick_round_trips_settle_at_the_minimum() -> None:
    t = timer()
    for _ in range(50):
        t.sample(0.005)
    assert t.timeout == 0.2


def test_a_slower_link_raises_the_timeout_and_a_quiet_one_lowers_it_again() -> None:
    t = timer()
    for _ in range(20):
        t.sample(0.01)
    quiet = t.timeout
    for rtt in [0.3, 1.2, 0.6, 1.5, 0.9] * 4:  # a busy machine: slow and jittery
        t.sample(rtt)
    busy = t.timeout
    for _ in range(60):
        t.sample(0.01)
    assert quiet == 0.2 and busy > 2.0 and t.timeout == 0.2


def test_expiry_doubles_up_to_the_maximum_and_a_sample_ends_the_back_off() -> None:
    t = timer()
    t.sample(0.05)
    base = t.timeout
    seen = []
    for _ in range(8):
        t.expired()
        seen.append(t.timeout)
    assert seen[:4] == [2 * base, 4 * base, 8 * base, 16 * base] and seen[-1] == 4.0
    t.sample(0.05)
    assert t.timeout < base * 2
