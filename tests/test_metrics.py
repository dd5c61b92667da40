"""Task metrics against hand-computed cases (harness/measures/metrics.py), and thresholds on them."""

from __future__ import annotations

import numpy as np
import pytest

from harness.measures import metrics
from harness.config import thresholds
from harness.config.profiles import Thresholds


def test_classification_top1_top5_per_class_and_confusion():
    # 3 samples, 6 classes; sample 2 is a tie between classes 0 and 3: the lower index wins
    scores = np.array([[0.9, 0.1, 0, 0, 0, 0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.5, 0, 0, 0.5, 0, 0]])
    m = metrics.classification(np.array([0, 0, 3]), scores)
    assert m["top1"] == pytest.approx(1 / 3)
    # top-5 hits: sample 0 (class 0 first) and sample 2 (class 3 second); sample 1's class 0 is 6th
    assert m["top5"] == pytest.approx(2 / 3)
    assert m["per_class_accuracy"] == {"0": 0.5, "3": 0.0}
    assert m["confusion_matrix"][0][0] == 1 and m["confusion_matrix"][0][5] == 1
    assert m["confusion_matrix"][3][0] == 1


def test_top5_hits_and_absent_with_few_classes():
    scores = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.5, 0, 0, 0.5, 0, 0]])
    assert metrics.classification(np.array([0, 3]), scores)["top5"] == 0.5
    few = metrics.classification(np.array([0, 1]), np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert "top5" not in few and few["top1"] == 1.0


def test_detection_rates_at_threshold_by_hand():
    y = np.array([0, 0, 0, 0, 1, 1, 1])
    score = np.array([0.1, 0.2, 0.6, 0.3, 0.7, 0.4, 0.9])
    m = metrics.detection(y, score, 0.5)
    assert m["counts"] == {"tp": 2, "fp": 1, "fn": 1, "tn": 3}
    assert m["false_alarm_rate"] == pytest.approx(1 / 4)
    assert m["miss_rate"] == pytest.approx(1 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    # AUC: positive/negative pairs ranked right: 0.7>{.1,.2,.6,.3}=4, 0.4>{.1,.2,.3}=3, 0.9=4 -> 11/12
    assert m["auc"] == pytest.approx(11 / 12)


def test_auc_ties_count_one_half():
    y = np.array([0, 1, 0, 1])
    assert metrics.roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5]))["auc"] == pytest.approx(0.5)
    # one positive tied with one negative, the other above both: (1 + 1 + 1 + 0.5) / 4
    assert metrics.roc_auc(y, np.array([0.2, 0.5, 0.5, 0.9]))["auc"] == pytest.approx(3.5 / 4)


def test_single_class_auc_is_undefined_and_says_so():
    m = metrics.detection(np.array([0, 0, 0]), np.array([0.1, 0.7, 0.2]), 0.5)
    assert "auc" not in m and "single-class" in m["undefined"]["auc"]
    assert m["false_alarm_rate"] == pytest.approx(1 / 3)
    assert "recall" not in m and "miss_rate" not in m and "f1" not in m  # absent, never 0
    assert "no positive" in m["undefined"]["recall"]


def test_anomaly_task_is_auc_and_detection_only_with_a_threshold():
    y, scores = [0, 0, 1, 1], [[0.1], [0.4], [0.35], [0.8]]
    plain = metrics.evaluate(metrics.ANOMALY, y, scores)
    assert plain == {"samples": 4, "auc": pytest.approx(0.75)}
    judged = metrics.evaluate(metrics.ANOMALY, y, scores, decision_threshold=0.3)
    assert judged["false_alarm_rate"] == 0.5 and judged["recall"] == 1.0


def test_two_output_detector_uses_the_event_column():
    m = metrics.evaluate(metrics.DETECTION, [0, 1], [[0.8, 0.2], [0.3, 0.7]])
    assert m["recall"] == 1.0 and m["false_alarm_rate"] == 0.0


def test_regression_mae_rmse():
    m = metrics.evaluate(metrics.REGRESSION, [1.0, 2.0, 3.0], [[1.0], [3.0], [1.0]])
    assert m["mae"] == pytest.approx(1.0) and m["rmse"] == pytest.approx(np.sqrt(5 / 3))
    assert "top1" not in m and "auc" not in m


def test_headline_per_task():
    assert metrics.headline("anomaly-detection").name == "auc"
    assert metrics.headline("regression") == metrics.Headline("rmse", False)
    assert metrics.headline("latency") is None


def test_threshold_on_false_alarm_rate_fails_when_exceeded():
    limits = Thresholds.model_validate({"false_alarm_rate": "5 %", "recall": "90 %", "auc": 0.9})
    assert limits.false_alarm_rate == pytest.approx(0.05)
    row = {"metrics": {"false_alarm_rate": 0.08, "recall": 0.95, "undefined": {"auc": "single-class"}}}
    checks = {c["name"]: c for c in thresholds.evaluate(row, limits, 1)}
    assert checks["false_alarm_rate"]["passed"] is False
    assert checks["recall"]["passed"] is True and checks["recall"]["kind"] == "minimum"
    assert checks["auc"]["passed"] is None  # not computable: neither passed nor failed
    assert thresholds.overall(list(checks.values())) is False


def test_regression_check_compares_the_headline_metric():
    from harness.results import regression

    base = {"task": "anomaly-detection", "metrics": {"auc": 0.95}}
    worse = {"task": "anomaly-detection", "metrics": {"auc": 0.90}}
    check = regression.task_metric(base, worse, regression.Criteria())
    assert check.verdict == regression.REGRESSION and check.change == pytest.approx(-5.0)
    assert regression.task_metric(base, {"task": "anomaly-detection", "metrics": {}},
                                  regression.Criteria()) is None
    rmse = regression.task_metric({"task": "regression", "metrics": {"rmse": 1.0}},
                                  {"task": "regression", "metrics": {"rmse": 0.5}}, regression.Criteria())
    assert rmse.verdict == regression.IMPROVEMENT


def test_scores_precision_uses_the_headline():
    from harness import scoring

    row = {"task": "anomaly-detection", "metrics": {"auc": 0.9}, "model_bytes": 10}
    ref = {"task": "anomaly-detection", "metrics": {"auc": 0.6}, "model_bytes": 10}
    assert scoring.model_ratios(row, ref)["precision"] == pytest.approx(1.5)
    assert scoring.model_ratios({"task": "latency"}, {"task": "latency"})["precision"] is None


def test_utilization_threshold_judges_the_measured_share_only():
    limits = Thresholds.model_validate({"utilization": "85 %"})
    [busy] = thresholds.evaluate({"cpu_utilization": 0.97}, limits, 1)
    assert busy["name"] == "utilization" and busy["passed"] is False
    [unknown] = thresholds.evaluate({"cpu_utilization": None}, limits, 1)
    assert unknown["passed"] is None  # not measured (an emulated board): neither passed nor failed


def test_agent_utilization_from_counters():
    from harness.runtimes.agent import utilization

    # 1 s of wall time, 0.5 s of CPU on 1 thread; /proc/stat: 300 busy of 400 jiffies
    u = utilization((0, 1.0, [100, 0, 100, 800, 0, 0, 0, 0]), (10**9, 1.5, [300, 0, 200, 900, 0, 0, 0, 0]), 1)
    assert u["process_cpu_fraction"] == pytest.approx(0.5) and u["board_busy_fraction"] == pytest.approx(0.75)
    assert utilization((0, 0.0, None), (10**9, 0.2, None), 2)["board_busy_fraction"] is None
