"""Fakes and simulators shipped for tests and for users trying the harness without hardware:
fake meter APIs and the `sim://` meter (fakes.py), meters speaking their wire protocol on a
pseudo-terminal (simulators.py), a simulated serial line (linesim.py)."""
