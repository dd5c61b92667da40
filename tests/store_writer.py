"""One 'lab controller' writing a store, for the concurrent-writers tests. Run as a process:

    python -m tests.store_writer URL NAME COUNT GO_FILE

It waits for GO_FILE (so two controllers start at the same moment, on a possibly fresh store),
then writes COUNT results into its own run and tries to write the same COUNT cases into the
shared run `shared`, interleaved. It prints a JSON line: the result ids it wrote and the shared
cases it won or was refused (the store's one-result-per-case key refuses the second writer).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from harness.errors import StoreError
from harness.results.store import Store


def samples_for(name: str, i: int) -> list[float]:
    return [float(i * 1000 + k) + (0.5 if name == "b" else 0.0) for k in range(50)]


def main(url: str, name: str, count: int, go_file: str) -> None:
    deadline = time.monotonic() + 60
    while not Path(go_file).exists():
        if time.monotonic() > deadline:
            raise SystemExit("never told to go")
        time.sleep(0.005)
    store = Store(url)
    own = f"run-{name}"
    store.start_run({"run_id": own, "suite": "concurrency", "devices": [f"board-{name}"]})
    try:
        store.start_run({"run_id": "shared", "suite": "concurrency", "devices": ["board-a", "board-b"]})
    except StoreError:
        pass  # the other controller created it first
    env = store.record_environment(own, f"board-{name}", {"controller": name})
    written, won, refused = [], [], []
    for i in range(count):
        variant = f"v{i:03d}"
        written.append(store.record_result(
            {"run_id": own, "device": f"board-{name}", "family": "f", "variant": variant, "status": "ok",
             "environment_id": env, "latency_p50_us": float(i)}, samples_for(name, i)))
        try:
            store.record_result({"run_id": "shared", "device": "board", "family": "f", "variant": variant,
                                 "status": "ok", "reason": f"written by {name}"}, samples_for(name, i))
            won.append(variant)
        except StoreError:
            refused.append(variant)
    store.finish_run(own, "complete")
    print(json.dumps({"name": name, "written": written, "won": won, "refused": refused}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
