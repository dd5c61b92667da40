"""The lab: orchestration, from a device profile and a suite to stored rows.

    board.py       profile in; transport, runner and meter out (labgrid.py for shared places)
    planning.py    pre-flight of a suite on a device: bad input and fit, before anything runs
    session.py     a run: each board through its cases, with health (health.py) and recovery
    case.py        one case measured (metering.py: power during it) and stored
    fleet.py       several boards in parallel
    check.py, inspection.py, shard.py, integrity.py, conditions.py, battery.py
"""
