"""Before and after, per round: one case of speed.py's profile cases under two source trees or option sets,
in fresh processes taken in turn (A B A B ...), so that a drift in the machine's speed falls on both sides.

    python benchmarks/round_pairs.py --case StyleGAN-64 --a /path/to/a/checkout/of/main          # main against this tree
    python benchmarks/round_pairs.py --case DCGAN-32 --b-options '{"reuse_fake": true}'        # an option, this tree

Each process builds the case on random images (speed.make_game), plays 3 warm-up rounds, then times
--rounds rounds (give a multiple of the lazy R1 interval: 16 for DCGAN and StyleGAN) and prints the mean
seconds per round. The table gives each pair's B ÷ A and the median of those ratios.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(root: str, case: str, rounds: int, options: str) -> None:
    """Time `rounds` rounds of `case` with the code under `root`; print one JSON line."""
    sys.path[:0] = [str(Path(root) / "src"), str(Path(root) / "benchmarks")]
    import torch
    from speed import PROFILE_CASES, make_game, round_once

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
    for _ in range(3):
        round_once(game, runtime, data)
    began = time.perf_counter()
    for _ in range(rounds):
        round_once(game, runtime, data)
    print(json.dumps({"case": label, "s_per_round": (time.perf_counter() - began) / rounds,
                      "threads": torch.get_num_threads()}), flush=True)


def one(root: Path, case: str, rounds: int, options: str) -> dict:
    """One timed process."""
    out = subprocess.run([sys.executable, __file__, "--child", str(root), case, str(rounds), options],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"child exited {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Pairs of A and B, then a markdown table."""
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", required=True, help="the start of a speed.py profile case's label, e.g. DCGAN-32, StyleGAN-64")
    p.add_argument("--a", type=Path, default=HERE.parent, help="source tree of A (default: this one)")
    p.add_argument("--b", type=Path, default=HERE.parent, help="source tree of B (default: this one)")
    p.add_argument("--a-options", default="{}", help="family options of A, as JSON")
    p.add_argument("--b-options", default="{}", help="family options of B, as JSON")
    p.add_argument("--rounds", type=int, default=32, help="timed rounds per process")
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
        a = one(args.a, args.case, args.rounds, args.a_options)
        b = one(args.b, args.case, args.rounds, args.b_options)
        pairs.append({"a": a["s_per_round"], "b": b["s_per_round"]})
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
