import pytest

from domain.scoring import ScoreCounts, ScoreResult, compute_score, count_statuses, round_points


def counts(*, passed=0, failed=0, errors=0, skipped=0, waived=0) -> ScoreCounts:
    total = passed + failed + errors + skipped + waived
    return ScoreCounts(total, passed, failed, errors, skipped, waived)


def test_count_statuses_tallies_every_status():
    tally = count_statuses(["pass", "pass", "fail", "error", "skip", "waived", "pass"])
    assert tally == ScoreCounts(total=7, passed=3, failed=1, errors=1, skipped=1, waived=1)


def test_count_statuses_of_nothing_is_all_zero():
    assert count_statuses([]) == ScoreCounts(0, 0, 0, 0, 0, 0)


def test_count_statuses_accepts_a_generator():
    assert count_statuses(s for s in ("pass", "fail")).total == 2


@pytest.mark.parametrize("bad", ["PASS", "passed", "", "unknown"])
def test_count_statuses_rejects_unknown_status(bad):
    with pytest.raises(ValueError, match="unknown check status"):
        count_statuses(["pass", bad])


def test_score_excludes_skipped_errors_and_waived_from_the_denominator():
    result = compute_score(counts(passed=6, failed=2, errors=3, skipped=4, waived=5))
    assert result == ScoreResult(score=75.0, reason=None)


def test_all_passing_scores_100():
    assert compute_score(counts(passed=12)).score == 100.0


def test_all_failing_scores_0_not_none():
    assert compute_score(counts(failed=3)) == ScoreResult(score=0.0, reason=None)


@pytest.mark.parametrize(
    ("passed", "failed", "expected"),
    [
        (2, 1, 66.67),  # 66.666… rounds up
        (1, 2, 33.33),  # 33.333… rounds down
        (1, 31, 3.13),  # exactly 3.125: half rounds up (banker's rounding would give 3.12)
        (1, 159, 0.63),  # exactly 0.625
        (1, 7, 12.5),
    ],
)
def test_score_rounds_to_two_places_half_up(passed, failed, expected):
    assert compute_score(counts(passed=passed, failed=failed)).score == expected


def test_no_checks_gives_no_score():
    assert compute_score(counts()) == ScoreResult(score=None, reason="no_checks")


@pytest.mark.parametrize(
    "tally",
    [counts(skipped=3), counts(errors=2), counts(waived=1), counts(skipped=1, errors=1, waived=1)],
)
def test_nothing_applicable_gives_no_score(tally):
    assert compute_score(tally) == ScoreResult(score=None, reason="no_applicable_checks")


def test_count_then_score_end_to_end():
    assert compute_score(count_statuses(["pass", "fail", "skip", "waived"])).score == 50.0


def test_round_points_treats_floats_as_written():
    assert round_points(2.675) == 2.68
    assert round_points(-1.005) == -1.01
    assert round_points(7) == 7.0
