"""Stored results in a notebook: `harness.api` returns typed pandas DataFrames.

    python examples/notebook_results.py [STORE]        # default: this checkout's store

Run `make demo` (or any `harness run`) first. Cells are separated by `# %%`, so VS Code and
Jupyter (jupytext) open this file as a notebook.
"""

# %%
import sys

from harness import api

store = sys.argv[1] if len(sys.argv) > 1 else None  # None: the default store (docs/operations.md)

# %% The runs, newest first: suite, devices, status, result counts, duration.
runs = api.runs(store, limit=5)
print(runs[["run_id", "suite", "devices", "status", "ok", "failed", "duration_s"]].to_string(index=False))

# %% The latest run's results: one row per (device, family, variant), typed columns.
df = api.results(store, run="latest", status="ok")
print(df.dtypes[["latency_p50_us", "accuracy_top1", "model_bytes", "recorded_at"]])

# %% Compression trade-off per family: median latency (ms), size (KiB) and accuracy.
table = (df.assign(p50_ms=df["latency_p50_us"] / 1000, kib=df["model_bytes"] / 1024)
           .set_index(["device", "family", "variant"])[["p50_ms", "kib", "accuracy_top1", "accuracy_delta_points"]]
           .sort_index())
print(table.round(3).to_string())

# %% Missing measurements are <NA>, never 0: which results have no accuracy (latency-only models)?
print(df.loc[df["accuracy_top1"].isna(), ["family", "variant"]].to_string(index=False))
