"""Write models/digits-cnn/health-check.json: the known output of the board health check.

The health check runs the tiny int8 digits model on the first N eval samples and compares the
predicted classes with these, which real TFLite-Micro (the reference kernels every runtime must
agree with on int8) produced. Predictions, not labels: the check is about the board computing
correctly, not about the model being right.

    .venv/bin/python tools/make_health_check.py
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from harness.deadline import Deadline
from harness.runners.agent_runner import AgentRunner
from harness.runners.base import Job
from harness.transports.local import LocalTransport

FAMILY = Path(__file__).resolve().parent.parent / "models" / "digits-cnn"
MODEL, SAMPLES = "tiny-int8.tflite", 32


def main() -> None:
    job = Job(model_path=FAMILY / MODEL, dataset_path=FAMILY / "eval.npz", warmup_count=0,
              warmup_min_seconds=0, measure_count=1, measure_min_seconds=0, accuracy_samples=SAMPLES)
    measured = AgentRunner(LocalTransport(), "tflm").measure(job, Deadline(120))
    check = {"model": MODEL, "sha256": hashlib.sha256((FAMILY / MODEL).read_bytes()).hexdigest(),
             "dataset": "eval.npz", "samples": SAMPLES, "predictions": measured.predictions,
             "source": "TFLite-Micro reference kernels (tflite-micro wheel), tools/make_health_check.py"}
    (FAMILY / "health-check.json").write_text(json.dumps(check, indent=2) + "\n")
    print(f"wrote {FAMILY / 'health-check.json'}: {measured.predictions}")


if __name__ == "__main__":
    main()
