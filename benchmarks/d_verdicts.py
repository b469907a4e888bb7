"""D's verdicts at a run's last checkpoint: does its discriminator tell the training images from held-out ones?

    python benchmarks/d_verdicts.py RUN_DIR [RUN_DIR ...] [--passes 8] [--n 1000] [--json verdicts.json]

For each run: D's mean logit and r_t = E[sign D(x)] (the overfitting signal of Karras et al. 2020, "Training
Generative Adversarial Networks with Limited Data"; D(x) is the mean of an image's logits where D gives a map of
them) on the run's training images, its held-out images (the data's test split) and as many samples of the EMA
generator (at most `--n` of each, a seeded draw), and the gap between training and held-out images. Four ways,
because a BatchNorm discriminator judges differently outside training:

- BatchNorm in eval mode (running statistics) or in train mode (each batch's own statistics, batches of the
  run's batch size drawn from one set, as D meets real and generated batches in training);
- on plain images or, where the run augments, through its own augmentation (ADA at its final p, DiffAugment).

D is a deep copy: nothing of the run changes. `--passes` shuffles each set that many times into batches
(augmentations drawn anew each pass; seeded).
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ganforge.data import load_dataset  # noqa: E402
from ganforge.data.dataset import to_float  # noqa: E402
from ganforge.train.loop import Trainer  # noqa: E402
from ganforge.train.run_dir import open_run  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_readings import main_over_runs  # noqa: E402

SEED = 0
SETS = ("train", "held_out", "samples")
WAYS = (("eval", False), ("train", False), ("eval", True), ("train", True))  #: (BatchNorm mode, augmented)


def logits(critic, augment, images: torch.Tensor, batch: int, passes: int) -> torch.Tensor:
    """D's mean logit for each image of `passes` seeded shuffles of `images` into full batches of `batch`."""
    order_rng = torch.Generator().manual_seed(SEED)
    out = []
    with torch.no_grad():
        for _ in range(passes):
            order = torch.randperm(len(images), generator=order_rng)
            for i in range(0, len(images) - batch + 1, batch):
                y = critic(augment(images[order[i:i + batch]]))
                out.append(y.float().reshape(len(y), -1).mean(1))
    return torch.cat(out)


def subset(images: torch.Tensor, n: int) -> torch.Tensor:
    """At most n of the images, a seeded draw (all of them, in order, when there are n or fewer)."""
    return images if len(images) <= n else images[torch.randperm(len(images), generator=torch.Generator().manual_seed(SEED))[:n]]


def verdicts(run: Path, passes: int = 8, n: int = 1000) -> dict:
    """The run's step, augmentation and, for each way of judging, D's mean logit and r_t on each set and the gap."""
    cfg, run_dir, checkpoint = open_run(run)
    trainer = Trainer(cfg, run_dir, checkpoint=checkpoint)
    game = trainer.game
    size = cfg.image_size
    images = {name: to_float(subset(load_dataset(str(cfg.data), image_size=size, split=split).images, n))
              for name, split in (("train", "train"), ("held_out", "test"))}
    batch = min(cfg.batch_size, len(images["held_out"]))
    with torch.no_grad():
        noise = game.sample_inputs(len(images["train"]), torch.Generator().manual_seed(SEED + 1))
        images["samples"] = game.render(trainer.sample_generator.eval(), noise).float().clamp(-1, 1)
    critic, augmenter = game.players[game.critics[0]], game.augmenter
    augments = augmenter is not None and augmenter.active
    result = {"run": run.name, "step": trainer.step, "augment": augmenter.mode if augments else "none",
              "p": augmenter.p if augments else 0.0, "batch": batch, "ways": []}
    for mode, augmented in WAYS if augments else WAYS[:2]:
        judge = copy.deepcopy(critic).train(mode == "train")
        torch.manual_seed(SEED)  # the augmentations' draws
        row = {"batchnorm": mode, "augmented": augmented}
        for name in SETS:
            z = logits(judge, augmenter if augmented else (lambda x: x), images[name], batch, passes)
            row[name] = {"mean": z.mean().item(), "r_t": z.sign().mean().item()}
        row["gap"] = row["train"]["mean"] - row["held_out"]["mean"]
        result["ways"].append(row)
    return result


def table(results: list[dict]) -> str:
    """A markdown table: one row per run and way of judging."""
    lines = ["| run | step | BatchNorm | images | training | held-out | samples | train − held-out |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        for w in r["ways"]:
            seen = (r["augment"] + (f" (p {r['p']:.2f})" if r["augment"] in ("ada", "fixed") else "")) if w["augmented"] else "plain"
            cells = " | ".join(f"{w[s]['mean']:.2f}, {w[s]['r_t']:.2f}" for s in SETS)
            lines.append(f"| {r['run']} | {r['step']} | {w['batchnorm']} | {seen} | {cells} | {w['gap']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    main_over_runs(__doc__, verdicts, table, "run folders made by `ganforge train` on data with a held-out split",
                   {"passes": (8, 1, "seeded shuffles of each set into batches"),
                    "n": (1000, 1, "at most this many images of each set (a seeded draw)")})


if __name__ == "__main__":
    main()
