import pytest

from ganforge.errors import GanforgeError
from ganforge.schedules import GrowthSchedule, growth_phase, level_of, resolution_of, schedule_table


def test_levels_and_resolutions():
    assert [level_of(r) for r in (4, 8, 32, 1024)] == [0, 1, 3, 8]
    assert resolution_of(3) == 32
    with pytest.raises(GanforgeError, match="Resolution 28"):
        level_of(28)


def test_schedule_periods_from_4_to_32_px():
    schedule = GrowthSchedule(0, 3, fade=0.1, stable=0.1)
    assert schedule_table(100, schedule) == [
        (0, 4, "stable"), (10, 8, "fade"), (20, 8, "stable"), (30, 16, "fade"), (40, 16, "stable"),
        (50, 32, "fade"), (60, 32, "stable")]
    assert growth_phase(15, 100, schedule) == (1, pytest.approx(0.5))
    assert growth_phase(57, 100, schedule) == (3, pytest.approx(0.7))
    assert growth_phase(99, 100, schedule) == (3, 1.0)
    assert growth_phase(100, 100, schedule) == (3, 1.0)


def test_phase_only_moves_forward():
    schedule = GrowthSchedule(1, 4, fade=0.15, stable=0.05)
    phases = [growth_phase(step, 1000, schedule) for step in range(1000)]
    assert phases[0] == (1, 1.0) and phases[-1] == (4, 1.0)
    assert all(a <= b for a, b in zip(phases, phases[1:]))  # (level, alpha) non-decreasing
    assert any(0 < alpha < 1 for _, alpha in phases)


def test_no_growth_and_instant_fades():
    assert growth_phase(0, 10, GrowthSchedule(3, 3)) == (3, 1.0)
    jump = GrowthSchedule(0, 2, fade=0.0, stable=0.25)
    assert [growth_phase(s, 8, jump) for s in (0, 2, 4, 7)] == [(0, 1.0), (1, 1.0), (2, 1.0), (2, 1.0)]


def test_schedules_that_cannot_finish_are_refused():
    with pytest.raises(GanforgeError, match="takes 1.20 of training"):
        GrowthSchedule(0, 3, fade=0.2, stable=0.2).validate()
    with pytest.raises(GanforgeError, match="start resolution"):
        GrowthSchedule(4, 3).validate()
    GrowthSchedule(0, 3, fade=0.15, stable=0.15).validate()
