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


def test_cosine_with_warmup_end_points_middle_and_warmup():
    from ganforge.schedules import cosine_with_warmup

    assert cosine_with_warmup(0, 2e-4, 5e-5, 1000) == pytest.approx(2e-4)
    assert cosine_with_warmup(500, 2e-4, 5e-5, 1000) == pytest.approx((2e-4 + 5e-5) / 2)  # cos(π/2) = 0: half-way
    assert cosine_with_warmup(250, 0.0, 1.0, 1000) == pytest.approx(0.5 - 0.5 * 2 ** -0.5)  # ½(1 - cos(π/4))
    assert cosine_with_warmup(1000, 2e-4, 5e-5, 1000) == 5e-5
    assert cosine_with_warmup(10 ** 9, 2e-4, 5e-5, 1000) == 5e-5  # stays at the end past the horizon
    # linear warm-up from warmup_start to the base value, then the cosine over what remains
    assert cosine_with_warmup(50, 1.0, 0.0, 1100, warmup=100) == pytest.approx(0.5)
    assert cosine_with_warmup(100, 1.0, 0.0, 1100, warmup=100) == pytest.approx(1.0)
    assert cosine_with_warmup(600, 1.0, 0.0, 1100, warmup=100) == pytest.approx(0.5)
    values = [cosine_with_warmup(i * 10, 1.0, 0.0, 1000) for i in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:]))  # monotone decay
    with pytest.raises(GanforgeError, match="horizon"):
        cosine_with_warmup(0, 1.0, 0.0, 100, warmup=100)


def test_recipe_schedule_follows_the_paper_and_replays_exactly():
    from ganforge.schedules import RecipeSchedule

    schedule = RecipeSchedule(horizon=6400)
    start, end = schedule.at(0), schedule.at(6400)
    assert start == {"lr": 2e-4, "beta2": 0.9, "gamma": 0.05, "ema_half_life": 0.0, "augment_p": 0.0}
    assert end == pytest.approx({"lr": 5e-5, "beta2": 0.99, "gamma": 0.005, "ema_half_life": 5e6, "augment_p": 0.55})
    # a pure function of images seen: the values at an image count are the same whatever was asked before (exact resume)
    later = [schedule.at(64 * step) for step in range(100)]
    assert later[37] == RecipeSchedule(horizon=6400).at(64 * 37)
    assert later[37]["lr"] < later[36]["lr"] and later[37]["beta2"] > later[36]["beta2"]
    warm = RecipeSchedule(horizon=6400, warmup=640).at(320)
    assert warm["lr"] == pytest.approx(1e-4) and warm["gamma"] < 0.05  # warm-up applies to the learning rate only


def test_ema_decay_halves_the_weight_after_the_half_life():
    from ganforge.schedules import ema_decay_for_half_life

    decay = ema_decay_for_half_life(10_000, 32)
    assert decay ** (10_000 / 32) == pytest.approx(0.5)
    assert ema_decay_for_half_life(0.0, 32) == 0.0
