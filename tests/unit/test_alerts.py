import pytest

from domain.alerts import Notice, incident_reasons, regression_notice, score_notification
from domain.baselines import Regression


@pytest.mark.parametrize("score", [None, 70.0, 70.01, 100.0])
def test_score_of_70_or_more_or_no_score_notifies_nobody(score):
    assert score_notification(score) is None


@pytest.mark.parametrize("score", [69.99, 60.0, 50.0])
def test_score_below_70_down_to_50_is_a_low_score_warning(score):
    notice = score_notification(score)
    assert notice is not None
    assert (notice.kind, notice.severity) == ("compliance_score_low", "warning")


@pytest.mark.parametrize("score", [49.99, 10.0, 0.0])
def test_score_below_50_is_critical(score):
    notice = score_notification(score)
    assert notice is not None
    assert (notice.kind, notice.severity) == ("compliance_score_critical", "critical")


def test_notice_message_states_the_score():
    assert score_notification(42.5) == Notice(
        "compliance_score_critical", "critical", "Compliance score 42.50% is below 50%"
    )
    assert "65.00%" in score_notification(65.0).message


REGRESSION = Regression("rolling_7d", 90.0, 75.0, 15.0)


def test_regression_notice_is_a_warning_naming_the_baseline():
    notice = regression_notice(REGRESSION)
    assert (notice.kind, notice.severity) == ("compliance_score_regression", "warning")
    assert "7-day average" in notice.message and "15.00 points" in notice.message
    assert "previous scan" in regression_notice(Regression("previous_scan", 90.0, 75.0, 15.0)).message


def test_no_trigger_means_no_incident():
    assert incident_reasons(0, 85.0, None) == []
    assert incident_reasons(0, None, None) == []


def test_critical_failed_check_opens_an_incident():
    assert incident_reasons(1, 95.0, None) == ["critical_check_failed"]


def test_score_below_50_opens_an_incident_but_50_does_not():
    assert incident_reasons(0, 49.99, None) == ["score_below_50"]
    assert incident_reasons(0, 50.0, None) == []


def test_regression_opens_an_incident():
    assert incident_reasons(0, 75.0, REGRESSION) == ["score_regression"]


def test_all_reasons_are_listed_together_in_a_stable_order():
    assert incident_reasons(3, 20.0, REGRESSION) == [
        "critical_check_failed",
        "score_below_50",
        "score_regression",
    ]
