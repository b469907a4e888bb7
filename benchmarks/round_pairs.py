"""Before and after, per round: one case of speed.py's profile cases under two source trees or option sets,
in fresh processes taken in turn (A B A B ...), so that a drift in the machine's speed falls on both sides.

    python benchmarks/round_pairs.py --case StyleGAN-64 --a /path/to/a/checkout/of/main          # main against this tree
    python benchmarks/round_pairs.py --case DCGAN-32 --b-options '{"reuse_fake": true}'        # an option, this tree
    python benchmarks/round_pairs.py --case DCGAN-64 --a /tmp/before --beside-hog               # both beside a busy process

Each process imports ganforge from its tree, builds the case on random images with this tree's harness
(speed.make_game, so a tree from before a case was written can still play it), plays 3 warm-up rounds, then times
--rounds rounds (give a multiple of the lazy R1 interval: 16 for DCGAN and StyleGAN), or fewer once --seconds have
passed, and prints the mean seconds per round. The rounds run as that tree's `ganforge train` runs them: under its
thread governor where it has one (ganforge.train.threads), at torch's own thread count before it. `--beside-hog`
starts benchmarks/busy.py's `nice -n 19` process beside every timed process. The table gives each pair's B ÷ A and
the median of those ratios.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(root: str, case: str, rounds: int, options: str, seconds: float) -> None:
    """Time `rounds` rounds of `case` with the ganforge under `root` (fewer once `seconds` have passed); print one
    JSON line."""
    sys.path.insert(0, str(Path(root) / "src"))
    ganforge = importlib.import_module("ganforge")  # pinned to `root` before speed.py puts this tree's src on the path
    import torch
    from busy import timed_rounds
    from speed import PROFILE_CASES, make_game, round_once

    try:
        from ganforge.train.threads import thread_policy
    except ImportError:  # a tree from before the thread governor
        thread_policy = None
    matches = [c for c in PROFILE_CASES if c[0].lower().startswith(case.lower())]
    if not matches:
        raise SystemExit(f"Case {case!r} is not one of speed.py's profile cases; expected the start of one of: "
                         f"{', '.join(c[0] for c in PROFILE_CASES)}.")
    label, settings, _ = matches[0]
    extra = json.loads(options)
    if extra:
        settings = {**settings, "options": {**settings.get("options", {}), **extra}}
    torch.manual_seed(0)
    game, runtime, data = make_game(**settings)
    with thread_policy(0, runtime.device) if thread_policy is not None else contextlib.nullcontext() as governor:
        times = timed_rounds(lambda: round_once(game, runtime, data), rounds, seconds, governor)
        threads = torch.get_num_threads()
    print(json.dumps({"case": label, "s_per_round": sum(times) / len(times), "rounds": len(times), "threads": threads,
                      "governor": thread_policy is not None, "ganforge": str(Path(ganforge.__file__).parents[1])}), flush=True)


def one(root: Path, case: str, rounds: int, options: str, seconds: float, beside_hog: bool) -> dict:
    """One timed process, beside a hog or not."""
    from busy import timed_child

    out = timed_child([sys.executable, __file__, "--child", str(root), case, str(rounds), options, str(seconds)],
                      dict(os.environ), beside_hog, seconds)
    if "error" in out:
        raise SystemExit(f"A timing process of tree {str(root)!r} failed: {out['error']}")
    return out


def main() -> None:
    """Pairs of A and B, then a markdown table."""
    if len(sys.argv) == 7 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], float(sys.argv[6]))
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a stopped benchmark still kills its hog
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", required=True, help="the start of a speed.py profile case's label, e.g. DCGAN-32, StyleGAN-64")
    p.add_argument("--a", type=Path, default=HERE.parent, help="source tree of A (default: this one)")
    p.add_argument("--b", type=Path, default=HERE.parent, help="source tree of B (default: this one)")
    p.add_argument("--a-options", default="{}", help="family options of A, as JSON")
    p.add_argument("--b-options", default="{}", help="family options of B, as JSON")
    p.add_argument("--rounds", type=int, default=32, help="timed rounds per process")
    p.add_argument("--seconds", type=float, default=120.0, help="timed seconds at most per process (fewer rounds then)")
    p.add_argument("--beside-hog", action="store_true", help="time every process beside one nice -n 19 CPU-bound process")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--json", type=Path, help="also write the pairs here")
    args = p.parse_args()
    for side in (args.a, args.b):
        if not (side / "src" / "ganforge").is_dir():
            p.error(f"{side} is not a ganforge source tree; expected a folder with src/ganforge in it.")
    sys.path.insert(0, str(HERE))
    from machine import describe

    print(f"machine: {describe()}", flush=True)
    pairs = []
    for _ in range(args.pairs):
        a = one(args.a, args.case, args.rounds, args.a_options, args.seconds, args.beside_hog)
        b = one(args.b, args.case, args.rounds, args.b_options, args.seconds, args.beside_hog)
        pairs.append({"a": a["s_per_round"], "b": b["s_per_round"], "a_process": a, "b_process": b})
        print(f"A {a['s_per_round']:.4f} s  B {b['s_per_round']:.4f} s  B/A {b['s_per_round'] / a['s_per_round']:.3f}", flush=True)
    ratios = [q["b"] / q["a"] for q in pairs]
    cells = [", ".join(f"{q[side]:.3f}" for q in pairs) for side in ("a", "b")] + [", ".join(f"{r:.2f}" for r in ratios)]
    print("\n| case | A s/round | B s/round | B ÷ A, pair by pair | median |\n|---|---|---|---|---|\n"
          f"| {a['case']} | {' | '.join(cells)} | **{statistics.median(ratios):.2f}** |")
    if args.json:
        args.json.write_text(json.dumps({"machine": describe(), "args": {k: str(v) for k, v in vars(args).items()},
                                         "pairs": pairs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
