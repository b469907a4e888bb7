"""pix2pix on mnist-edges: the paper's ablation (L1, cGAN, L1 + cGAN), and training speed against a reference.

Quality (the 10,000 held-out MNIST test digits and their edge maps, scored by ganforge.metrics.paired):
L1, PSNR, SSIM of outputs against the real digits; the shipped digit classifier's agreement between the
output and the source digit's label; FD (digit-classifier features) of outputs vs the real test digits.
Each variant trains with the same data, seed, batch size and number of steps. Figures: a side-by-side
grid (input | L1 | cGAN | L1 + cGAN | target) and the discriminator's per-patch map of the L1 + cGAN run.

Speed: seconds per training iteration (one D update + one G update) of ganforge's game with the paper's
players (U-Net width 64 down to 1x1, 70x70 PatchGAN, batch norm) and of a straightforward implementation
of the paper's design written below (fp32, NCHW, the same layer sizes and step order), in the same process.
Peak memory: the peak RSS of a separate process training at 256 px, batch 1.

    python benchmarks/pix2pix.py --ablation --steps 300 --out runs/p2p-ablation
    python benchmarks/pix2pix.py --speed --sizes 64,256 --batches 1,16
    python benchmarks/pix2pix.py --memory
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig  # noqa: E402
from ganforge.contract import Runtime  # noqa: E402
from ganforge.games.pix2pix import PairedInfo, Pix2PixGame, Pix2PixOptions  # noqa: E402
from ganforge.losses import get_loss  # noqa: E402
from ganforge.train.run_dir import resolve_defaults  # noqa: E402

VARIANTS = {"L1": {"adversarial": False}, "cGAN": {"lambda_l1": 0.0}, "L1+cGAN": {}}


# --- quality: the ablation --------------------------------------------------------------------------
def train_variant(name: str, options: dict, steps: int, batch_size: int, out: Path, seed: int) -> Path:
    """Train one ablation variant on mnist-edges with the family defaults otherwise; return its run folder."""
    from ganforge.train.api import train

    cfg = TrainConfig(model="pix2pix", data="mnist-edges", steps=steps, batch_size=batch_size, seed=seed, out=str(out),
                      name=f"pix2pix-{name.lower().replace('+', '-')}-seed{seed}", options=dict(options),
                      checkpoint_every=max(steps, 1), sample_every=max(steps, 1))
    return train(cfg, callbacks=[])


def ablation(steps: int, batch_size: int, out: Path, seed: int, n_eval: int) -> dict:
    """Train the three variants at the same budget and score each on the held-out pairs."""
    from ganforge.export import load_generator
    from ganforge.metrics.paired import evaluate_paired

    results = {}
    for name, options in VARIANTS.items():
        run = out / f"pix2pix-{name.lower().replace('+', '-')}-seed{seed}"
        started = time.perf_counter()
        if not (run / "export" / "config.json").is_file():
            run = train_variant(name, options, steps, batch_size, out, seed)
        seconds = time.perf_counter() - started
        generator, info = load_generator(run)
        scores = evaluate_paired(generator, info, n=n_eval, seed=seed)
        scores["train_seconds"] = info.get("train_seconds", round(seconds, 1))
        scores["run"] = str(run)
        results[name] = scores
        print(name, json.dumps(scores), flush=True)
    return results


@torch.no_grad()
def figures(out: Path, seed: int, docs: Path, count: int = 8) -> None:
    """Side-by-side ablation grid and the L1 + cGAN discriminator's per-patch maps, as PNGs in `docs`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ganforge.data.dataset import to_float
    from ganforge.data.paired import load_paired
    from ganforge.export import load_generator
    from ganforge.models.pix2pix import PatchGANDiscriminator
    from ganforge.train.checkpoint import Checkpoints, read_checkpoint

    test = load_paired("mnist-edges", 32, 1, "test")
    index = torch.arange(count) * 97  # spread over the test set, fixed
    a, b = to_float(test.a.images[index]), to_float(test.b.images[index])
    columns = [a]
    runs = {name: out / f"pix2pix-{name.lower().replace('+', '-')}-seed{seed}" for name in VARIANTS}
    for run in runs.values():
        generator, _ = load_generator(run)
        torch.manual_seed(seed)
        columns.append(generator(a).clamp(-1, 1))
    columns.append(b)
    fig, axes = plt.subplots(count, len(columns), figsize=(1.1 * len(columns), 1.1 * count))
    titles = ["input (edges)", *VARIANTS, "target"]
    for i in range(count):
        for j, col in enumerate(columns):
            ax = axes[i, j]
            ax.imshow(col[i, 0].numpy(), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=7)
    fig.tight_layout()
    docs.mkdir(parents=True, exist_ok=True)
    fig.savefig(docs / "pix2pix-ablation.png", dpi=110)
    plt.close(fig)

    # the discriminator of the L1 + cGAN run, read from its last checkpoint
    run = runs["L1+cGAN"]
    state = read_checkpoint(Checkpoints(run).latest())
    generator, info = load_generator(run)
    opts = Pix2PixOptions().resolved(32)
    critic = PatchGANDiscriminator(2, opts.d_width, opts.d_layers, opts.norm)
    critic.load_state_dict(state["game"]["players"]["discriminator"])
    critic.eval()
    torch.manual_seed(seed)
    fake = generator(a).clamp(-1, 1)
    real_map = torch.sigmoid(critic(torch.cat([a, b], 1)))
    fake_map = torch.sigmoid(critic(torch.cat([a, fake], 1)))
    shown = 4
    fig, axes = plt.subplots(shown, 4, figsize=(6.4, 1.7 * shown))
    for i in range(shown):
        panels = [(b[i, 0], "real digit", "gray"), (real_map[i, 0], "D(x, y) per patch", "magma"),
                  (fake[i, 0], "G(x)", "gray"), (fake_map[i, 0], "D(x, G(x)) per patch", "magma")]
        for j, (image, title, cmap) in enumerate(panels):
            ax = axes[i, j]
            if cmap == "gray":
                ax.imshow(image.numpy(), cmap="gray", vmin=-1, vmax=1)
            else:
                im = ax.imshow(image.numpy(), cmap=cmap, vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=7)
    fig.colorbar(im, ax=axes, shrink=0.6, label="P(real)")
    fig.savefig(docs / "pix2pix-patch-map.png", dpi=110)
    plt.close(fig)


# --- the reference: a straightforward implementation of the paper's design -------------------------
class RefSkipBlock(nn.Module):
    """One U-Net level, nested: [down, inner levels, up], its input concatenated to its output."""

    def __init__(self, outer: int, inner: int, sub: nn.Module | None, in_ch: int | None = None, outermost: bool = False,
                 innermost: bool = False, dropout: bool = False):
        super().__init__()
        in_ch = in_ch or outer
        self.outermost = outermost
        down = nn.Conv2d(in_ch, inner, 4, 2, 1)
        if outermost:
            layers = [down, sub, nn.ReLU(), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2), down, nn.ReLU(), nn.ConvTranspose2d(inner, outer, 4, 2, 1), nn.BatchNorm2d(outer)]
        else:
            layers = [nn.LeakyReLU(0.2), down, nn.BatchNorm2d(inner), sub, nn.ReLU(),
                      nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), nn.BatchNorm2d(outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def ref_unet(c_in: int, c_out: int, n_down: int, ngf: int = 64) -> nn.Module:
    """The paper's U-Net: C64-C128-C256-C512-C512..., three dropout blocks below the bottleneck."""
    block = RefSkipBlock(ngf * 8, ngf * 8, None, innermost=True)
    for i in range(n_down - 5):
        block = RefSkipBlock(ngf * 8, ngf * 8, block, dropout=i < 3)
    for mult in (4, 2, 1):
        block = RefSkipBlock(ngf * mult, ngf * mult * 2, block)
    return RefSkipBlock(c_out, ngf, block, in_ch=c_in, outermost=True)


def ref_patchgan(c: int, ndf: int = 64) -> nn.Module:
    """C64-C128-C256-C512 70x70 PatchGAN with batch norm."""
    return nn.Sequential(nn.Conv2d(c, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(ndf, 2 * ndf, 4, 2, 1), nn.BatchNorm2d(2 * ndf), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1), nn.BatchNorm2d(4 * ndf), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(4 * ndf, 8 * ndf, 4, 1, 1), nn.BatchNorm2d(8 * ndf), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(8 * ndf, 1, 4, 1, 1))


class ReferenceIteration:
    """One iteration as the paper's implementation runs it: G(x), then D on (x, G(x)) and (x, y), then G."""

    def __init__(self, c_in: int, c_out: int, n_down: int):
        self.g, self.d = ref_unet(c_in, c_out, n_down), ref_patchgan(c_in + c_out)
        self.opt_g = torch.optim.Adam(self.g.parameters(), 2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(self.d.parameters(), 2e-4, betas=(0.5, 0.999))

    def __call__(self, a: torch.Tensor, b: torch.Tensor) -> None:
        fake = self.g(a)
        self.opt_d.zero_grad()
        pred_fake = self.d(torch.cat([a, fake.detach()], 1))
        pred_real = self.d(torch.cat([a, b], 1))
        loss_d = 0.5 * (F.binary_cross_entropy_with_logits(pred_fake, torch.zeros_like(pred_fake))
                        + F.binary_cross_entropy_with_logits(pred_real, torch.ones_like(pred_real)))
        loss_d.backward()
        self.opt_d.step()
        for p in self.d.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad()
        pred = self.d(torch.cat([a, fake], 1))
        loss_g = F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred)) + 100 * F.l1_loss(fake, b)
        loss_g.backward()
        self.opt_g.step()
        for p in self.d.parameters():
            p.requires_grad_(True)


def seconds_per_iteration(step, a: torch.Tensor, b: torch.Tensor, iters: int, warmup: int = 2) -> float:
    """Median wall-clock seconds of `step(a, b)` over `iters` runs after `warmup`."""
    for _ in range(warmup):
        step(a, b)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        step(a, b)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


GAME_VARIANTS = {"fp32_nchw": (None, False), "fp32_channels_last": (None, True), "bf16_channels_last": (torch.bfloat16, True)}


def speed(sizes: tuple[int, ...], batches: tuple[int, ...], iters: int, variants: tuple[str, ...], channels: int = 3) -> dict:
    """Seconds per iteration of ganforge's game (paper-sized players) in each variant, and of the reference."""
    from ganforge.models.pix2pix import auto_depth

    out, cfg = {}, resolve_defaults(TrainConfig(model="pix2pix"))
    for size in sizes:
        for batch in batches:
            torch.manual_seed(0)
            a, b = torch.rand(batch, channels, size, size) * 2 - 1, torch.rand(batch, channels, size, size) * 2 - 1
            row = {}
            for name in variants:
                dtype, cl = GAME_VARIANTS[name]
                game = Pix2PixGame(Runtime(torch.device("cpu"), dtype, cl), PairedInfo(channels, size, in_channels=channels),
                                   Pix2PixOptions(width=64, d_width=64, d_layers=3), get_loss("non_saturating"), cfg)
                fmt = torch.channels_last if cl else torch.contiguous_format

                def ours(x, y, game=game, dtype=dtype):
                    batch_ = {"a": x, "b": y}
                    with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                        game.discriminator_step(batch_)
                        game.generator_step(batch_)

                row[f"ganforge_{name}"] = seconds_per_iteration(ours, a.contiguous(memory_format=fmt), b.contiguous(memory_format=fmt), iters)
                del game
            torch.manual_seed(0)
            row["reference"] = seconds_per_iteration(ReferenceIteration(channels, channels, auto_depth(size)), a, b, iters)
            for name in variants:
                row[f"speedup_{name}"] = round(row["reference"] / row[f"ganforge_{name}"], 2)
            out[f"{size}px_batch{batch}"] = row
            print(size, batch, json.dumps(row), flush=True)
    return out


# --- memory ---------------------------------------------------------------------------------------
MEMORY_CHILD = """
import resource, sys, numpy as np
from pathlib import Path
from PIL import Image
from ganforge.config import TrainConfig
from ganforge.train.api import train
root = Path(sys.argv[1])
rng = np.random.default_rng(0)
for i in range(8):
    for side in ("A", "B"):
        (root / "pairs" / side).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(root / "pairs" / side / f"{i}.png")
train(TrainConfig(model="pix2pix", data=str(root / "pairs"), image_size=256, batch_size=int(sys.argv[2]), steps=int(sys.argv[3]),
                  out=str(root), name="run", checkpoint_every=1000, sample_every=1000), callbacks=[])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def memory(batch_size: int = 1, steps: int = 4) -> dict:
    """Peak RSS (MiB) of a fresh process that trains pix2pix at 256 px (default players and precision)."""
    with tempfile.TemporaryDirectory(prefix="p2p-mem-") as tmp:
        src = str(Path(__file__).resolve().parents[1] / "src")
        done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, tmp, str(batch_size), str(steps)], capture_output=True,
                              text=True, check=True, env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin"})
        kib = int(done.stdout.strip().splitlines()[-1])
    return {"image_size": 256, "batch_size": batch_size, "steps": steps, "peak_rss_mib": round(kib / 1024, 1)}


def main(argv=None) -> int:
    """Run the asked measurements and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ablation", action="store_true", help="train (or reuse) the three variants and score them")
    parser.add_argument("--figures", action="store_true", help="draw the ablation grid and D's patch map into --docs")
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--memory", action="store_true")
    parser.add_argument("--steps", type=int, default=300, help="training steps of each ablation variant")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-eval", type=int, default=10000, help="held-out pairs scored per variant")
    parser.add_argument("--out", default="runs/p2p-ablation", help="folder of the ablation runs")
    parser.add_argument("--docs", default=str(Path(__file__).resolve().parents[1] / "docs" / "img"))
    parser.add_argument("--sizes", default="64,256")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--variants", default=",".join(GAME_VARIANTS), help=f"game variants timed: {', '.join(GAME_VARIANTS)}")
    parser.add_argument("--speed-iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {"machine": {"cpu": describe(), "threads": torch.get_num_threads(), "torch": torch.__version__}}
    if args.memory:
        results["memory"] = memory()
    if args.ablation:
        results["ablation"] = {"steps": args.steps, "batch_size": args.batch_size, "seed": args.seed,
                               "scores": ablation(args.steps, args.batch_size, Path(args.out), args.seed, args.n_eval)}
    if args.figures:
        figures(Path(args.out), args.seed, Path(args.docs))
        results["figures"] = [str(Path(args.docs) / "pix2pix-ablation.png"), str(Path(args.docs) / "pix2pix-patch-map.png")]
    if args.speed:
        results["seconds_per_iteration"] = speed(tuple(int(s) for s in args.sizes.split(",")),
                                                 tuple(int(b) for b in args.batches.split(",")), args.speed_iters,
                                                 tuple(args.variants.split(",")))
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
