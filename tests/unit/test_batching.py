import pytest

from domain.batching import chunk, cycles_per_interval, effective_batch_size


@pytest.mark.parametrize(
    ("hours", "minutes", "expected"),
    [(24, 30, 48), (168, 30, 336), (1, 30, 2), (1, 60, 1), (1, 45, 1), (1, 90, 1), (24, 7, 205)],
)
def test_cycles_per_interval_counts_whole_cycles_and_at_least_one(hours, minutes, expected):
    assert cycles_per_interval(hours, minutes) == expected


def test_cycles_per_interval_defaults_to_30_minute_cycles():
    assert cycles_per_interval(24) == 48


@pytest.mark.parametrize(("hours", "minutes"), [(0, 30), (-1, 30), (24, 0)])
def test_cycles_per_interval_rejects_non_positive_input(hours, minutes):
    with pytest.raises(ValueError):
        cycles_per_interval(hours, minutes)


def test_small_fleet_keeps_the_configured_batch_size():
    assert effective_batch_size(100, due_count=40, interval_hours=24) == 100
    assert effective_batch_size(100, due_count=0, interval_hours=24) == 100


def test_large_fleet_gets_batches_big_enough_to_finish_within_the_interval():
    # 1,000,000 hosts / 48 cycles = 20,833.33 → 20,834 per cycle
    assert effective_batch_size(100, due_count=1_000_000, interval_hours=24) == 20_834


def test_boundary_where_dynamic_size_equals_configured_size():
    assert effective_batch_size(100, due_count=4_800, interval_hours=24) == 100
    assert effective_batch_size(100, due_count=4_801, interval_hours=24) == 101


def test_effective_batch_size_honours_the_cycle_length():
    assert effective_batch_size(10, due_count=1_000, interval_hours=24, cycle_minutes=60) == 42


@pytest.mark.parametrize(("batch_size", "due"), [(0, 10), (-5, 10), (10, -1)])
def test_effective_batch_size_rejects_nonsense(batch_size, due):
    with pytest.raises(ValueError):
        effective_batch_size(batch_size, due, 24)


def test_chunk_splits_into_full_chunks_and_a_remainder():
    assert chunk(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]


def test_chunk_exact_multiple_and_empty():
    assert chunk("abcd", 2) == [["a", "b"], ["c", "d"]]
    assert chunk([], 5) == []


def test_chunk_larger_than_sequence_is_one_chunk():
    assert chunk((1, 2), 10) == [[1, 2]]


@pytest.mark.parametrize("size", [0, -1])
def test_chunk_rejects_non_positive_size(size):
    with pytest.raises(ValueError):
        chunk([1, 2, 3], size)
