"""threads.py: a CPU run computes with the cores other processes leave free; the user's setting wins."""
import json

import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.errors import GanforgeError
from ganforge.train import threads as threads_module
from ganforge.train.threads import (
    ThreadGovernor,
    choose_threads,
    cpu_jiffies,
    others_cores,
    thread_policy,
)

STAT = """cpu  900 0 300 800 0 0 0 0 0 0
cpu0 100 0 50 400 10 5 5 30 0 0
cpu1 200 0 100 300 20 0 0 0 7 0
cpu2 999 0 999 1 0 0 0 0 0 0
intr 12345
ctxt 678
"""


def stat(busy0: int, idle0: int, busy1: int, idle1: int) -> str:
    """A /proc/stat with two CPUs whose busy and idle tick counts are given."""
    return f"cpu  0 0 0 0\ncpu0 {busy0} 0 0 {idle0} 0 0 0 0\ncpu1 {busy1} 0 0 {idle1} 0 0 0 0\n"


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_jiffies_sum_the_allowed_cpus_and_count_steal_as_busy():
    busy, total = cpu_jiffies(STAT, {0, 1})
    # cpu0: 600 ticks, 410 idle+iowait; cpu1: 620 ticks, 320 idle+iowait; cpu2 and the aggregate line are skipped
    assert (busy, total) == (190 + 300, 600 + 620)
    assert cpu_jiffies(STAT, {2}) == (1998, 1999)
    assert cpu_jiffies(STAT, set()) == (0, 0)


def test_others_are_the_busy_time_this_process_did_not_use():
    # 2 CPUs for 1 s at 100 Hz: 200 ticks; all busy, 1 CPU-second ours -> one core's worth is someone else's
    assert others_cores(200, 200, 1.0, 2, 100.0) == pytest.approx(1.0)
    assert others_cores(200, 200, 2.0, 2, 100.0) == pytest.approx(0.0)
    assert others_cores(100, 200, 1.2, 2, 100.0) == 0.0  # never negative (ticks are coarse)
    assert others_cores(0, 0, 0.0, 2, 100.0) == 0.0


@pytest.mark.parametrize("others,cpus,ceiling,current,expected", [
    (0.0, 2, 2, 2, 2), (0.3, 2, 2, 2, 2), (0.6, 2, 2, 2, 2), (0.7, 2, 2, 2, 1), (1.0, 2, 2, 2, 1), (2.0, 2, 2, 2, 1),
    (0.4, 2, 2, 1, 1), (0.3, 2, 2, 1, 2), (0.0, 2, 2, 1, 2),  # back up only once clearly under half a core
    (0.0, 8, 4, 4, 4), (5.2, 8, 4, 4, 3), (0.0, 8, 4, 1, 4), (0.0, 2, 1, 1, 1),
])
def test_threads_are_the_free_cores_rounded_within_one_and_the_ceiling(others, cpus, ceiling, current, expected):
    assert choose_threads(others, cpus, ceiling, current) == expected


class FakeMachine:
    """A 2-CPU /proc/stat, a clock and this process's CPU seconds, advanced by `run` (hz 100)."""

    def __init__(self):
        self.now, self.own, self.busy, self.idle, self.set = 0.0, 0.0, [0, 0], [0, 0], []

    def run(self, seconds: float, own_cores: float, other_cores: float) -> None:
        self.now += seconds
        self.own += own_cores * seconds
        for cpu in range(2):
            used = round(100 * seconds * min(1.0, (own_cores + other_cores) / 2))
            self.busy[cpu] += used
            self.idle[cpu] += round(100 * seconds) - used

    def governor(self, ceiling: int = 2) -> ThreadGovernor:
        g = ThreadGovernor(ceiling, window=2.0, read_stat=lambda: stat(self.busy[0], self.idle[0], self.busy[1], self.idle[1]),
                           own_seconds=lambda: self.own, clock=lambda: self.now, set_threads=self.set.append)
        g.cpus, g.hz = {0, 1}, 100.0
        return g


def test_governor_drops_a_thread_beside_a_busy_process_and_takes_it_back_when_it_ends():
    machine = FakeMachine()
    g = machine.governor()
    machine.run(1.0, own_cores=1.0, other_cores=1.0)
    assert g.tick() == 2 and machine.set == []  # within the window: nothing re-read
    machine.run(1.5, own_cores=1.0, other_cores=1.0)
    assert g.tick() == 1 and machine.set == [1]
    machine.run(2.5, own_cores=1.0, other_cores=1.0)
    assert g.tick() == 1 and machine.set == [1]  # still taken: no change
    machine.run(2.5, own_cores=1.0, other_cores=0.0)  # the other process ended: a core idles
    assert g.tick() == 2 and machine.set == [1, 2]
    machine.run(2.5, own_cores=2.0, other_cores=0.1)  # an editor's trickle does not cost a thread
    assert g.tick() == 2 and g.changes == 2


def test_governor_without_proc_stat_keeps_its_threads():
    g = ThreadGovernor(2, window=0.0, read_stat=lambda: None, set_threads=lambda n: pytest.fail("must not set"))
    assert g.tick() == 2


def test_policy_adapts_only_when_the_count_is_nobodys(two_threads):
    cpu = torch.device("cpu")
    with thread_policy(0, cpu, environ={}) as governor:
        assert isinstance(governor, ThreadGovernor) and governor.ceiling == 2
    with thread_policy(0, cpu, environ={"OMP_NUM_THREADS": "2"}) as governor:  # the user's environment wins
        assert governor is None
    with thread_policy(0, torch.device("cuda"), environ={}) as governor:
        assert governor is None


def test_fixed_threads_hold_for_the_block_and_are_restored(two_threads):
    with thread_policy(1, torch.device("cpu"), environ={}) as governor:
        assert governor is None and torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2


def test_negative_threads_are_refused():
    with pytest.raises(GanforgeError, match="threads=-1"):
        TrainConfig(threads=-1).validate()


def test_training_beside_a_busy_process_runs_on_one_thread_and_restores_the_count(tmp_path, monkeypatch, two_threads):
    from ganforge.train.api import train

    machine = FakeMachine()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)

    class Busy(ThreadGovernor):
        def __init__(self, ceiling):
            super().__init__(ceiling, window=0.0, read_stat=lambda: stat(machine.busy[0], machine.idle[0],
                                                                         machine.busy[1], machine.idle[1]),
                             own_seconds=lambda: machine.own)
            self.cpus, self.hz = {0, 1}, 100.0

        def tick(self):
            machine.run(1.0, own_cores=1.0, other_cores=1.0)
            return super().tick()

    monkeypatch.setattr(threads_module, "ThreadGovernor", Busy)
    seen = []

    class Watch:
        def on_start(self, trainer): pass
        def on_round_end(self, trainer, step): seen.append(torch.get_num_threads())
        def on_log(self, trainer, records): pass
        def on_end(self, trainer): pass

    cfg = TrainConfig(model="dcgan", data="mnist", steps=3, batch_size=8, out=str(tmp_path), name="t",
                      sample_every=3, checkpoint_every=3, copy_check_n=0, options={"width": 8, "z_dim": 8})
    run = train(cfg, callbacks=[Watch()], progress=False)
    assert seen == [1, 1, 1]
    assert torch.get_num_threads() == 2
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if '"threads"' in line]
    assert events == [{"event": "threads", "step": 1, "threads": 1}]  # logged once, where the count moved
