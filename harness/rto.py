"""Timeouts that follow measured round trips, as TCP's retransmission timer does (RFC 6298).

    first sample R:   SRTT = R, RTTVAR = R/2
    later samples R:  RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|;  SRTT = 7/8 SRTT + 1/8 R
    RTO = SRTT + max(G, 4 RTTVAR), within [minimum, maximum]

Before any sample the timeout is `initial` (a profile's `serial.read_timeout`). A timeout that
expires doubles the RTO (exponential back-off, up to `maximum`) until a new sample arrives; an
exchange that was retransmitted gives no sample (Karn's algorithm: its reply may answer either
copy). On a busy machine round trips grow and so do the timeouts, instead of a fixed value
firing on a board that is merely slow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALPHA, BETA, K = 1 / 8, 1 / 4, 4  # RFC 6298's gains


@dataclass
class RetransmitTimer:
    initial: float
    minimum: float
    maximum: float
    granularity: float = 0.01  # G: the resolution of the timers that wait on it
    srtt: float | None = field(default=None, init=False)
    rttvar: float = field(default=0.0, init=False)
    _backoff: int = field(default=1, init=False)

    @property
    def timeout(self) -> float:
        """The current RTO in seconds, back-off included."""
        base = self.initial if self.srtt is None else self.srtt + max(self.granularity, K * self.rttvar)
        return min(self.maximum, max(self.minimum, base) * self._backoff)

    def sample(self, seconds: float) -> None:
        """A round trip measured on an exchange that was sent once."""
        if self.srtt is None:
            self.srtt, self.rttvar = seconds, seconds / 2
        else:
            self.rttvar = (1 - BETA) * self.rttvar + BETA * abs(self.srtt - seconds)
            self.srtt = (1 - ALPHA) * self.srtt + ALPHA * seconds
        self._backoff = 1

    def expired(self) -> None:
        """The timeout fired: wait twice as long next time (up to `maximum`)."""
        if self.timeout < self.maximum:
            self._backoff *= 2

    def describe(self) -> str:
        srtt = "none" if self.srtt is None else f"{self.srtt * 1000:.0f} ms"
        return f"RTO {self.timeout:.2f} s (SRTT {srtt}, RTTVAR {self.rttvar * 1000:.0f} ms)"
