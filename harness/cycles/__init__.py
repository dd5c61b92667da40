"""Cycle estimates for the emulated Cortex-M board (issue 18).

    plugin.py    the TCG plugin (firmware/qemu-plugin): built like the firmware, its log parsed
    model.py     cycle tables per core (tables/*.yaml, each weight citing its TRM section) and
                 the estimate: sum of count x weight (+ flash wait states), with its bound
    profile.py   the device profile's `cycles:` section (core, clock, flash wait states)
    compare.py   `harness compare` gate on estimated cycles, with a per-operator diff
    calibration.py  measured (a real board's DWT cycle counter) / estimated, per model

An estimate is its own figure with its method (`cycle_model`), stored beside the instruction-
count time of the emulated board and never ranked with measured board latency.
"""
