"""Does how a run's samples are drawn change its score? FID/KID/precision/recall of four ways to draw them.

    python benchmarks/render_modes.py RUN_DIR [RUN_DIR ...] [--n 2000] [--batch 64] [--json modes.json]

At a run's last checkpoint: the EMA generator (what exports and the boards use) and the live one, each with
BatchNorm on its running statistics (eval mode, as exported) or on each batch's own statistics (train mode, batches of
`--batch`, as the generator ran in training). Scored as `benchmarks/colour.py` scores a board (TF-Inception features,
`n` samples against the run's training images, the same seeded noise for every way). The generators are deep copies:
nothing of the run changes.
"""
from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from colour import features, scores  # noqa: E402
from run_readings import main_over_runs  # noqa: E402

from ganforge.data import load_dataset  # noqa: E402
from ganforge.data.dataset import to_uint8  # noqa: E402
from ganforge.train.loop import Trainer  # noqa: E402
from ganforge.train.run_dir import open_run  # noqa: E402

SEED = 0
BATCHNORM = ("running", "batch")  #: BatchNorm on running statistics (eval mode) or on each batch's own (train mode)


def drawn(generator: nn.Module, z: torch.Tensor, batchnorm: str, batch: int) -> torch.Tensor:
    """uint8 images of a deep copy of `generator` for noise `z`, in eval mode but for BatchNorm in train mode where asked."""
    G = copy.deepcopy(generator).eval()
    if batchnorm == "batch":
        for module in G.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.train()
    torch.manual_seed(SEED)  # noise maps, where the generator draws them
    with torch.no_grad():
        return to_uint8(torch.cat([G(z[i:i + batch]).float().clamp(-1, 1) for i in range(0, len(z), batch)]))


def render_modes(run: Path, n: int = 2000, batch: int = 64) -> dict:
    """The run's step and the scores of each generator (EMA, live) x BatchNorm way."""
    cfg, run_dir, checkpoint = open_run(run)
    trainer = Trainer(cfg, run_dir, checkpoint=checkpoint)
    real = features(load_dataset(str(cfg.data), image_size=cfg.image_size, split="train").images)
    z = trainer.game.sample_inputs(n, torch.Generator().manual_seed(SEED))["z"]
    result = {"run": run.name, "step": trainer.step, "n": n, "batch": batch, "ways": []}
    generators = {"ema": trainer.sample_generator, "live": trainer.game.generator}
    for name, generator in generators.items():
        for batchnorm in BATCHNORM:
            result["ways"].append({"generator": name, "batchnorm": batchnorm,
                                   **scores(real, features(drawn(generator, z, batchnorm, batch)))})
            print(json.dumps(result["ways"][-1]), flush=True)
    return result


def table(results: list[dict]) -> str:
    """A markdown table: one row per run and way of drawing."""
    lines = ["| run | step | generator | BatchNorm | FID | KID | precision | recall |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for w in r["ways"]:
            lines.append(f"| {r['run']} | {r['step']} | {w['generator']} | {w['batchnorm']} | {w['fid']:.1f} | "
                         f"{w['kid']:.4f} | {w['precision']:.3f} | {w['recall']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    main_over_runs(__doc__, render_modes, table, "run folders made by `ganforge train` for a generator of noise",
                   {"n": (2000, 2, "samples per way"),
                    "batch": (64, 2, "batch size of the draws (BatchNorm's statistics in train mode)")})


if __name__ == "__main__":
    main()
