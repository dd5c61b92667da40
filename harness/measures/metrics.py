"""Task metrics from a case's raw outputs: pure functions, numpy only.

A model family's manifest names its task (harness/models/manifest.py); the board returns each
evaluated sample's dequantized output (harness/runtimes/agent.py `scores`) and this module turns
them into the task's metrics. A metric that does not apply is absent, never 0; one that applies
but cannot be computed on this data (AUC on a single-class set, precision with no positive
prediction) is absent too and its reason is listed under `undefined`.

Rates are fractions (0..1). Conventions follow scikit-learn's (`roc_auc_score` with tied scores
counted one half, as the Mann-Whitney U statistic; MLPerf Tiny's anomaly detection benchmark
scores the same AUC of the anomaly score).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

CLASSIFICATION = "image-classification"
DETECTION = "binary-detection"
ANOMALY = "anomaly-detection"
REGRESSION = "regression"
LATENCY = "latency"
TASKS = (CLASSIFICATION, "classification", DETECTION, ANOMALY, REGRESSION, LATENCY)
DEFAULT_DECISION_THRESHOLD = 0.5


@dataclass(frozen=True)
class Headline:
    """The one metric a task is judged by (scores' precision dimension, A/B and regression checks)."""

    name: str
    higher_is_better: bool


HEADLINES = {
    CLASSIFICATION: Headline("top1", True), "classification": Headline("top1", True),
    DETECTION: Headline("f1", True), ANOMALY: Headline("auc", True),
    REGRESSION: Headline("rmse", False),
}
# The metrics a threshold may name, and whether a larger value is worse (the limit is a maximum)
# or better (the limit is a minimum).
LOWER_IS_BETTER = {"false_alarm_rate", "miss_rate", "mae", "rmse"}
HIGHER_IS_BETTER = {"top1", "top5", "precision", "recall", "f1", "auc"}
THRESHOLD_METRICS = LOWER_IS_BETTER | HIGHER_IS_BETTER


def headline(task: str | None) -> Headline | None:
    return HEADLINES.get(task or "")


def evaluate(task: str, y: Sequence[Any], scores: Sequence[Sequence[float]],
             decision_threshold: float | None = None) -> dict[str, Any]:
    """The task's metrics of a whole eval set: `scores[i]` is sample i's output vector."""
    out = np.asarray(scores, dtype=np.float64).reshape(len(scores), -1)
    truth = np.asarray(y).reshape(len(y), -1)[:, 0] if len(y) else np.asarray(y)
    if task in (CLASSIFICATION, "classification"):
        return classification(truth.astype(int), out)
    score = _binary_score(out)
    if task == DETECTION:
        return detection(truth.astype(int), score, _threshold(decision_threshold))
    if task == ANOMALY:
        if decision_threshold is None:  # AUC only, as MLPerf Tiny scores it
            return {"samples": int(len(truth)), **roc_auc(truth.astype(int), score)}
        return detection(truth.astype(int), score, decision_threshold)
    if task == REGRESSION:
        return regression(truth.astype(np.float64), out[:, 0])
    return {}


def classification(y: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """top-1, top-5 (only with more than 5 classes), per-class accuracy, confusion matrix
    (rows: true class, columns: predicted). Ties rank the lower class index first."""
    n, classes = scores.shape
    ranked = np.argsort(-scores, axis=1, kind="stable")
    predicted = ranked[:, 0]
    labels = max(classes, int(y.max()) + 1 if n else 0)
    confusion = np.zeros((labels, labels), dtype=int)
    np.add.at(confusion, (y, predicted), 1)
    support = confusion.sum(axis=1)
    result: dict[str, Any] = {
        "samples": n, "top1": float(np.mean(predicted == y)) if n else None,
        "per_class_accuracy": {str(c): float(confusion[c, c] / support[c])
                               for c in range(labels) if support[c]},
        "confusion_matrix": confusion.tolist(),
    }
    if classes > 5 and n:
        result["top5"] = float(np.mean([y[i] in ranked[i, :5] for i in range(n)]))
    return {k: v for k, v in result.items() if v is not None}


def detection(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, Any]:
    """Binary detection at `threshold` (positive: score >= threshold; label 1 is the event):
    false-alarm rate FP/(FP+TN), miss rate FN/(FN+TP), precision, recall, F1, and ROC AUC."""
    positive = score >= threshold
    tp = int(np.sum(positive & (y == 1)))
    fp = int(np.sum(positive & (y == 0)))
    fn = int(np.sum(~positive & (y == 1)))
    tn = int(np.sum(~positive & (y == 0)))
    result: dict[str, Any] = {"samples": int(len(y)), "decision_threshold": threshold,
                              "counts": {"tp": tp, "fp": fp, "fn": fn, "tn": tn}}
    undefined: dict[str, str] = {}
    _ratio(result, undefined, "false_alarm_rate", fp, fp + tn, "no negative (normal) samples")
    _ratio(result, undefined, "miss_rate", fn, fn + tp, "no positive (event) samples")
    _ratio(result, undefined, "recall", tp, tp + fn, "no positive (event) samples")
    _ratio(result, undefined, "precision", tp, tp + fp, "no positive predictions")
    if "precision" in result and "recall" in result:
        p, r = result["precision"], result["recall"]
        if p + r > 0:
            result["f1"] = 2 * p * r / (p + r)
        else:
            undefined["f1"] = "precision and recall are both 0"
    else:
        undefined["f1"] = "precision or recall undefined"
    if undefined:
        result["undefined"] = undefined
    return _merge(result, roc_auc(y, score))


def roc_auc(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    """ROC AUC as the Mann-Whitney U statistic over average ranks (tied scores count one half).
    Undefined, and said so, when the data holds one class only."""
    positives, negatives = int(np.sum(y == 1)), int(np.sum(y == 0))
    if positives == 0 or negatives == 0:
        only = "negatives" if positives == 0 else "positives"
        return {"undefined": {"auc": f"single-class data (only {only}): AUC is undefined"}}
    ranks = _average_ranks(score)
    u = ranks[y == 1].sum() - positives * (positives + 1) / 2
    return {"auc": float(u / (positives * negatives))}


def regression(y: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    error = predicted - y
    return {"samples": int(len(y)), "mae": float(np.mean(np.abs(error))),
            "rmse": float(np.sqrt(np.mean(error ** 2)))}


def headline_value(task: str | None, metrics: dict[str, Any] | None) -> float | None:
    h = headline(task)
    return None if h is None or not metrics else metrics.get(h.name)


def _average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values), dtype=np.float64)
    sorted_values = values[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or sorted_values[end] != sorted_values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2  # 1-based average rank of the tie
            start = end
    return ranks


def _binary_score(out: np.ndarray) -> np.ndarray:
    """One output: the event's score; two (softmax over normal/event): the event's column."""
    return out[:, 1] if out.shape[1] == 2 else out[:, 0]


def _threshold(value: float | None) -> float:
    return DEFAULT_DECISION_THRESHOLD if value is None else value


def _ratio(result: dict[str, Any], undefined: dict[str, str], name: str, num: int, den: int,
           why: str) -> None:
    if den:
        result[name] = num / den
    else:
        undefined[name] = why


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    undefined = {**a.get("undefined", {}), **b.get("undefined", {})}
    merged = {**a, **b}
    if undefined:
        merged["undefined"] = undefined
    return merged
