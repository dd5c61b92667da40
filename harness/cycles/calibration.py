"""Calibration: a real board of the same core, running the same firmware with its DWT cycle
counter as the inference timer, measures the cycles the emulated board estimated.

    measured_cycles = the board's median latency (us) x the profile's clock (MHz)
    ratio           = measured / estimated, per model (the same .tflite, by sha256)

Stored in the real board's result (extra["cycle_calibration"]) against the newest estimate of
that model by the same core's cycle model, and shown in the run report. Two figures obtained
differently are put into this one ratio on purpose: the ratio is the model's error, labelled so.
"""

from __future__ import annotations

from typing import Any

from harness.config.profiles import DeviceProfile
from harness.results.store import Store

METHOD = "DWT CYCCNT median x clock / plugin estimate"


def calibration(store: Store, device: DeviceProfile, row: dict[str, Any]) -> dict[str, Any] | None:
    """The calibration for a real board's result, when its profile says it times with DWT."""
    section = device.cycles
    if section is None or not section.dwt_timer or device.emulated or not row.get("latency_p50_us"):
        return None
    estimate = store.latest_estimate(row.get("model_sha256") or "", section.core)
    if estimate is None:
        return None
    measured = round(row["latency_p50_us"] * section.clock_mhz)
    estimated = int(estimate["estimated_cycles"])
    return {"measured_cycles": measured, "estimated_cycles": estimated, "ratio": measured / estimated,
            "error_pct": 100.0 * (estimated - measured) / measured, "cycle_model": estimate["cycle_model"],
            "estimate_run_id": estimate["run_id"], "estimate_device": estimate["device"], "method": METHOD}


def with_calibration(store: Store, device: DeviceProfile, row: dict[str, Any]) -> dict[str, Any] | None:
    """The row's extra with its calibration added (unchanged when there is none)."""
    found = calibration(store, device, row)
    extra = row.get("extra")
    return {**(extra or {}), "cycle_calibration": found} if found else extra


def report_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run report's cycle section: estimates (emulated) and calibrations (real boards)."""
    out = []
    for r in rows:
        extra = r.get("extra") or {}
        est, cal = extra.get("cycles"), extra.get("cycle_calibration")
        if r.get("estimated_cycles") and est:
            out.append({"device": r["device"], "case": f"{r['family']}/{r['variant']}", "kind": "estimate",
                        "cycles": r["estimated_cycles"], "low": est.get("low"), "high": est.get("high"),
                        "latency_us": r["estimated_latency_us"], "clock_mhz": est.get("clock_mhz"),
                        "method": r["cycle_model"] + (" (rough)" if est.get("rough") else ""),
                        "operators": est.get("operators") or [], "error_pct": None})
        if cal:
            out.append({"device": r["device"], "case": f"{r['family']}/{r['variant']}", "kind": "measured (DWT)",
                        "cycles": cal["measured_cycles"], "low": None, "high": None,
                        "latency_us": r.get("latency_p50_us"), "clock_mhz": None,
                        "method": f"{cal['method']}: estimate {cal['estimated_cycles']:,} by {cal['cycle_model']}",
                        "operators": [], "error_pct": cal["error_pct"]})
    return out
