"""Round times of the default DCGAN-32 run alone and beside one CPU-bound process, per thread policy.

Each configuration runs in its own process (OpenMP reads its environment once, when torch loads): a few
warm-up rounds, then `--rounds` timed rounds; the median and mean seconds per round are printed. "Beside a
hog" starts `nice -n 19 python -c "while True: pass"` in a session of its own first, as a process from
another terminal or service would be: Linux's autogroups order processes by nice only within one session,
so across sessions the hog takes a fair share of the cores (a hog started in the same session yields to
the run and hardly slows it). The hog is killed when the configuration ends, whatever happens.

Policies: `auto` is what `ganforge train` does (config threads=0: the thread governor of
ganforge.train.threads); `N` fixes N threads; `N-passive` also sets OMP_WAIT_POLICY=passive.

    python benchmarks/busy.py                        # fp32 and bf16, every policy, alone and beside a hog
    python benchmarks/busy.py --precisions bf16 --policies auto,2 --rounds 30
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOG = ["nice", "-n", "19", sys.executable, "-c", "while True: pass"]


def timed_rounds(play, rounds: int, seconds: float, governor=None, warmup: int = 3) -> list[float]:
    """Seconds of each of `rounds` calls of `play` after `warmup` untimed ones, or of fewer once `seconds` have passed
    (at least one); the thread governor, if any, ticks after every round."""
    times, began = [], time.perf_counter()
    for i in range(warmup + rounds):
        if times and time.perf_counter() - began > seconds:
            break
        start = time.perf_counter()
        play()
        if governor is not None:
            governor.tick()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def child(precision: str, policy: str, rounds: int, seconds: float) -> None:
    """Time `rounds` rounds of DCGAN-32 (batch 64, NHWC) under `policy`, or fewer once `seconds` have passed;
    print one JSON line."""
    import torch

    sys.path.insert(0, str(HERE))
    from speed import make_game, round_once

    from ganforge.train.threads import thread_policy

    fixed = 0 if policy == "auto" else int(policy.split("-")[0])
    game, runtime, data = make_game("dcgan", 64, precision, "on")
    with thread_policy(fixed, runtime.device) as governor:
        times = timed_rounds(lambda: round_once(game, runtime, data), rounds, seconds, governor)
        threads = torch.get_num_threads()
    print(json.dumps({"median_s": statistics.median(times), "mean_s": sum(times) / len(times), "rounds": len(times),
                      "final_threads": threads,
                      "changes": governor.changes if governor is not None else 0,
                      "others": governor.readings if governor is not None else []}), flush=True)


def timed_child(cmd: list[str], env: dict, beside_hog: bool, seconds: float) -> dict:
    """Run a timing child that prints one JSON line last, beside a hog or not; its result, or {"error": why} (the child's
    last line of stderr, or how long it overran)."""
    hog = subprocess.Popen(HOG, start_new_session=True) if beside_hog else None
    try:
        if hog is not None:
            time.sleep(0.5)
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 120)
        if out.returncode != 0:
            return {"error": (out.stderr.strip().splitlines() or [f"exited with status {out.returncode}"])[-1]}
        return json.loads(out.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        return {"error": f"ran over {seconds + 120:g} s"}
    finally:
        if hog is not None:
            os.killpg(hog.pid, signal.SIGKILL)
            hog.wait()


def measure(precision: str, policy: str, rounds: int, beside_hog: bool, seconds: float) -> dict:
    """One configuration in a fresh process, beside a hog or not."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    if policy.endswith("-passive"):
        env["OMP_WAIT_POLICY"] = "passive"
    return timed_child([sys.executable, __file__, "--child", precision, policy, str(rounds), str(seconds)], env, beside_hog,
                       seconds)


def main() -> None:
    """Every precision × policy, alone then beside a hog; a markdown table at the end."""
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a stopped benchmark still kills its hog (finally)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--policies", default="2,auto,1,2-passive", help="comma-separated: auto, N, N-passive")
    parser.add_argument("--rounds", type=int, default=30, help="timed rounds per configuration")
    parser.add_argument("--seconds", type=float, default=40.0, help="timed seconds at most per configuration (fewer rounds then)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from machine import describe

    print(f"machine: {describe()}", flush=True)
    rows = []
    for precision in args.precisions.split(","):
        for policy in args.policies.split(","):
            row = {"precision": precision, "policy": policy}
            for where in ("alone", "hog"):
                row[where] = measure(precision, policy, args.rounds, where == "hog", args.seconds)
                print(f"{precision} {policy:10s} {where:5s}: {row[where]}", flush=True)
            rows.append(row)
    print("| precision | threads | alone s/round (median, mean) | beside a hog s/round (median, mean) | slowdown (mean) |")
    print("|---|---|---|---|---|")
    for r in rows:
        a, h = r["alone"], r["hog"]
        if "error" in a or "error" in h:
            print(f"| {r['precision']} | {r['policy']} | {a} | {h} | – |")
            continue
        print(f"| {r['precision']} | {r['policy']} | {a['median_s']:.3f}, {a['mean_s']:.3f} | {h['median_s']:.3f}, {h['mean_s']:.3f} "
              f"({h['rounds']} rounds, ends at {h['final_threads']} threads) | {h['mean_s'] / a['mean_s']:.1f}× |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
