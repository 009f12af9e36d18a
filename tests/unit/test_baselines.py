import pytest

from domain.baselines import Baseline, Regression, choose_baseline, detect_regression


def test_three_window_scores_give_a_rolling_mean():
    assert choose_baseline([80.0, 90.0, 70.0], previous_score=10.0) == Baseline("rolling_7d", 80.0)


def test_rolling_mean_is_rounded_to_two_places_half_up():
    assert choose_baseline([90.0, 90.0, 91.0], None) == Baseline("rolling_7d", 90.33)
    assert choose_baseline([0.01, 0.0, 0.0, 0.0], None) == Baseline("rolling_7d", 0.0)
    assert choose_baseline([0.02, 0.0, 0.0, 0.0], None) == Baseline("rolling_7d", 0.01)  # 0.005 → 0.01


def test_rolling_mean_is_exact_for_decimal_scores():
    assert choose_baseline([0.1, 0.2, 0.3], None) == Baseline("rolling_7d", 0.2)


def test_fewer_than_three_window_scores_fall_back_to_previous_scan():
    assert choose_baseline([80.0, 90.0], previous_score=85.5) == Baseline("previous_scan", 85.5)


def test_no_window_and_no_previous_scan_gives_no_baseline():
    assert choose_baseline([], None) is None
    assert choose_baseline([80.0, 90.0], None) is None


def test_previous_score_of_zero_is_still_a_baseline():
    assert choose_baseline([], 0.0) == Baseline("previous_scan", 0.0)


def test_drop_of_exactly_ten_points_is_not_a_regression():
    assert detect_regression(Baseline("rolling_7d", 80.0), 70.0) is None


def test_drop_just_over_ten_points_is_a_regression():
    regression = detect_regression(Baseline("rolling_7d", 80.0), 69.99)
    assert regression == Regression("rolling_7d", 80.0, 69.99, 10.01)


@pytest.mark.parametrize(("baseline", "current"), [(17.35, 7.35), (16.51, 6.51), (75.3, 65.3)])
def test_exact_ten_point_drop_is_judged_in_decimal_not_float(baseline, current):
    # For these pairs float subtraction gives a hair more than 10.
    assert detect_regression(Baseline("previous_scan", baseline), current) is None


def test_regression_reports_the_previous_scan_baseline():
    regression = detect_regression(Baseline("previous_scan", 95.5), 50.25)
    assert regression == Regression("previous_scan", 95.5, 50.25, 45.25)


def test_improvement_or_small_drop_is_not_a_regression():
    assert detect_regression(Baseline("rolling_7d", 60.0), 90.0) is None
    assert detect_regression(Baseline("rolling_7d", 60.0), 55.0) is None


def test_threshold_is_configurable():
    assert detect_regression(Baseline("rolling_7d", 60.0), 54.0, threshold=5.0) is not None
    assert detect_regression(Baseline("rolling_7d", 60.0), 55.0, threshold=5.0) is None


def test_missing_baseline_or_current_score_is_not_a_regression():
    assert detect_regression(None, 10.0) is None
    assert detect_regression(Baseline("rolling_7d", 90.0), None) is None


def test_choose_then_detect_end_to_end():
    baseline = choose_baseline([92.0, 94.0, 96.0], previous_score=50.0)
    assert detect_regression(baseline, 80.0) == Regression("rolling_7d", 94.0, 80.0, 14.0)
