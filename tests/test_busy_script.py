"""benchmarks/busy.py: timed rounds, and timing children beside a hog that is gone afterwards."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import busy  # noqa: E402

HOG_PATTERN = busy.HOG[-1]  #: the hog's program text, which pgrep -f finds in its command line


def hogs() -> str:
    return subprocess.run(["pgrep", "-f", HOG_PATTERN], capture_output=True, text=True).stdout.strip()


def child(body: str) -> list[str]:
    """A timing child that runs `body` with a `hog_seen` flag: whether a hog ran beside it (its pattern's last letter
    bracketed, so that pgrep does not find the child's own command line)."""
    pattern = HOG_PATTERN[:-1] + f"[{HOG_PATTERN[-1]}]"
    return [sys.executable, "-c", "import json, subprocess\n"
            f"hog_seen = bool(subprocess.run(['pgrep', '-f', {pattern!r}], capture_output=True).stdout.strip())\n" + body]


def test_timed_rounds_skips_the_warm_up_ticks_the_governor_and_stops_at_the_cap():
    class Governor:
        ticks = 0

        def tick(self):
            self.ticks += 1

    calls, governor = [], Governor()
    times = busy.timed_rounds(lambda: calls.append(1), 5, 60.0, governor, warmup=2)
    assert len(calls) == 7 and len(times) == 5 and governor.ticks == 7 and all(t >= 0 for t in times)
    calls.clear()
    assert len(busy.timed_rounds(lambda: calls.append(1), 5, 0.0)) == 1 and len(calls) == 4  # warm-up, then one timed round


def test_a_child_beside_a_hog_sees_it_and_the_hog_is_gone_afterwards():
    assert hogs() == ""
    out = busy.timed_child(child("print(json.dumps({'hog_seen': hog_seen}))"), dict(os.environ), True, 5.0)
    assert out == {"hog_seen": True}
    assert hogs() == ""
    assert busy.timed_child(child("print(json.dumps({'hog_seen': hog_seen}))"), dict(os.environ), False, 5.0) == {"hog_seen": False}


def test_a_failing_child_gives_its_last_error_line_and_still_ends_the_hog():
    out = busy.timed_child(child("raise SystemExit('no such case')"), dict(os.environ), True, 5.0)
    assert out == {"error": "no such case"}
    assert hogs() == ""
