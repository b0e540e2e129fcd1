"""stats() text layouts, compared with Deeplearning4j's strings for the same counts."""

import numpy as np

from seqkit import Evaluation, EvaluationBinary, RegressionEvaluation

# DL4J EvalTest.testConfusionMatrixString: actual a predicted b twice, actual c predicted c three times.
DL4J_CONFUSION = """=========================Confusion Matrix=========================
 0 1 2
-------
 0 2 0 | 0 = a
 0 0 0 | 1 = b
 0 0 3 | 2 = c

Confusion matrix format: Actual (rowClass) predicted as (columnClass) N times
=================================================================="""


def _dl4j_example() -> Evaluation:
    actual = [0, 0, 2, 2, 2]
    predicted = [1, 1, 2, 2, 2]
    return Evaluation(labels=["a", "b", "c"]).eval(np.eye(3)[actual], np.eye(3)[predicted])


def test_classification_stats_layout_matches_dl4j():
    expected = (
        "\n========================Evaluation Metrics========================\n"
        " # of classes:    3\n"
        " Accuracy:        0.6000\n"
        " Precision:       0.5000\t(1 class excluded from average)\n"
        " Recall:          0.5000\t(1 class excluded from average)\n"
        " F1 Score:        1.0000\t(2 classes excluded from average)\n"
        "Precision, recall & F1: macro-averaged (equally weighted avg. of 3 classes)\n"
        "\n"
        "Warning: 1 class was never predicted by the model and was excluded from average precision\n"
        "Classes excluded from average precision: [0]\n"
        "Warning: 1 class was never predicted by the model and was excluded from average recall\n"
        "Classes excluded from average recall: [1]\n"
        "\n" + DL4J_CONFUSION)
    assert _dl4j_example().stats() == expected


def test_stats_options_top_n_suppressed_warnings_and_wide_counts():
    ev = _dl4j_example()
    quiet = ev.stats(suppress_warnings=True)
    assert "Warning" not in quiet and quiet.endswith(DL4J_CONFUSION)
    assert "Confusion Matrix" not in ev.stats(include_confusion=False)
    top = Evaluation(top_n=2).eval(np.eye(3)[[0, 1, 2]], np.array([[.5, .3, .2], [.5, .3, .2], [.5, .3, .2]]))
    assert "\n Top 2 Accuracy:  0.6667\n" in top.stats()
    big = Evaluation().eval(np.eye(2)[[0] * 12 + [1]], np.eye(2)[[0] * 12 + [1]])
    assert "  0  1\n-------\n 12  0 | 0 = 0\n  0  1 | 1 = 1\n" in big.stats()


def test_many_classes_skip_the_matrix_and_cap_the_listed_classes():
    ev = Evaluation(num_classes=25).eval(np.eye(25)[[0, 1]], np.eye(25)[[0, 0]])
    text = ev.stats()
    assert "Confusion Matrix" not in text
    assert "Note: Confusion matrix not generated due to space requirements for 25 classes." in text
    assert "Warning: 24 classes were never predicted by the model and were excluded from average precision" in text
    assert "Classes excluded from average precision: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, " \
           "... (8 more)]" in text
    assert "Confusion Matrix" in ev.stats(include_confusion=True)


def test_regression_stats_layout_matches_dl4j():
    ev = RegressionEvaluation().eval(np.array([[1, 2, 3], [0.1, 0.2, 0.3], [6, 5, 4]]),
                                     np.array([[2.5, 3.2, 3.8], [2.15, 1.3, -1.2], [7, 4.5, 3]]))
    expected = (
        "Column    MSE            MAE            RMSE           RSE            PC             R^2            \n"
        "col_0     2.48417e+00    1.51667e+00    1.57612e+00    3.68814e-01    9.97013e-01    6.31186e-01    \n"
        "col_1     9.66667e-01    9.33333e-01    9.83192e-01    2.46599e-01    9.68620e-01    7.53401e-01    \n"
        "col_2     1.29667e+00    1.10000e+00    1.13871e+00    5.30937e-01    9.15603e-01    4.69063e-01    \n")
    assert ev.stats() == expected
    assert RegressionEvaluation().stats() == "RegressionEvaluation: No Data"
    constant = RegressionEvaluation(columns=["level"]).eval(np.ones((3, 1)), np.array([[1.0], [2.0], [3.0]]))
    assert constant.stats().splitlines()[1].startswith("level     1.66667e+00    1.00000e+00    1.29099e+00    NaN")


def test_binary_stats_layout():
    ev = EvaluationBinary(decision_threshold=[0.5, 0.2], labels=["spike", "dip"])
    ev.eval(np.array([[1, 0], [0, 1], [1, 1]]), np.array([[0.9, 0.3], [0.2, 0.3], [0.4, 0.1]]))
    lines = ev.stats().splitlines()
    assert lines[0].split() == ["Label", "Accuracy", "F1", "Precision", "Recall", "Total", "TP", "TN", "FP", "FN"]
    assert lines[1].split() == ["spike", "0.6667", "0.6667", "1.0000", "0.5000", "3", "1", "1", "0", "1"]
    assert lines[2].split() == ["dip", "0.3333", "0.5000", "0.5000", "0.5000", "3", "1", "0", "1", "1"]
    assert lines[3] == "Per-output decision thresholds: [0.5, 0.2]"
    assert EvaluationBinary().stats() == "EvaluationBinary: No Data"
