"""Start-up time of the CLI as a user meets it: `harness --help` and `harness devices` in a fresh
process (interpreter start + imports + output), median of N runs, wall clock.

A timing is a measurement, not a unit test: it depends on the machine and its load, so it lives
here and prints figures (tests/test_cli.py checks only that --help imports nothing heavy).
The goal: --help under 2 s on a busy 2-core CI machine, well under on a quiet one.

    python benchmarks/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = (["--help"], ["devices"], ["inspect", "--help"])
GOAL_S = 2.0


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "harness.cli", *argv], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    medians = {}
    for argv in COMMANDS:
        times = [timed(argv) for _ in range(args.runs)]
        median = medians[" ".join(argv)] = statistics.median(times)
        print(f"harness {' '.join(argv):<16} median {median:.3f} s  min {min(times):.3f} s  "
              f"max {max(times):.3f} s  ({args.runs} runs, wall clock, fresh process)")
    met = medians["--help"] < GOAL_S
    print(f"goal: median --help < {GOAL_S} s: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
