"""The figures of docs/theory.md: toy runs with snapshots, drawn by `ganforge theory`.

    flock /tmp/gf-heavy.lock python benchmarks/theory_figures.py --out runs/theory --docs docs/img

Trains `--model toy` on mix1d (1-D, 3 modes) and ring8 (PacGAN's ring) through the ordinary training
API with the Snapshots callback (every --every steps), then writes each run's theory figures
(D vs D* frames and GIF, D -> 1/2, saturation) and copies the ones the docs show into --docs.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig  # noqa: E402
from ganforge.report.snapshots import Snapshots  # noqa: E402
from ganforge.tools.theory import theory_of_toy_run  # noqa: E402
from ganforge.train.api import default_callbacks, train  # noqa: E402

RUNS = {  # name -> (data, steps, loss, options)
    "mix1d": ("mix1d", 1500, "non_saturating", {}),
    "ring8": ("ring8", 2000, "non_saturating", {}),
}


def main() -> None:
    """Train the runs and draw their figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/theory")
    parser.add_argument("--docs", help="copy the figures shown in docs/theory.md here")
    parser.add_argument("--every", type=int, default=100, help="snapshot interval in steps")
    parser.add_argument("--runs", nargs="+", default=list(RUNS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"# machine: {describe()}")
    out = Path(args.out) / time.strftime("%Y%m%d-%H%M%S")
    for name in args.runs:
        data, steps, loss, options = RUNS[name]
        cfg = TrainConfig(model="toy", data=data, loss=loss, steps=steps, seed=0, out=str(out), name=name,
                          options=options, log_every=25, sample_every=250, checkpoint_every=steps)
        started = time.perf_counter()
        run = train(cfg, callbacks=default_callbacks(cfg, progress=False) + [Snapshots(args.every)])
        trained = time.perf_counter() - started
        figures = out / f"{name}-theory"
        result = theory_of_toy_run(run, figures, max_frames=21)
        print(json.dumps({"run": name, "train_seconds": round(trained, 1), "last": result["snapshots"][-1]}), flush=True)
        if args.docs:
            docs = Path(args.docs)
            docs.mkdir(parents=True, exist_ok=True)
            for src, dst in (("d_vs_dstar.png", "d-vs-dstar"), ("d_vs_dstar.gif", "d-vs-dstar"), ("d_half.png", "d-half"),
                             ("saturation.png", "saturation")):
                shutil.copy(figures / src, docs / f"theory-{name}-{dst}{Path(src).suffix}")
            shutil.copy(figures / "theory.json", docs / f"theory-{name}.json")
            early = sorted((figures / "frames").glob("step_*.png"))[min(2, len(result["snapshots"]) - 1)]
            shutil.copy(early, docs / f"theory-{name}-d-vs-dstar-early.png")


if __name__ == "__main__":
    main()
