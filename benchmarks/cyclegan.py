"""CycleGAN on the thin <-> thick MNIST demo: translation quality, and training speed against a reference.

Quality (held-out MNIST test digits, split by ink mass like the training domains):
- label agreement: the shipped digit classifier's label of G(x) equals the source digit's true label;
- ink mass: mean total pixel value of sources, translations and real target images;
- cycle L1: mean |F(G(x)) - x| in [-1, 1] units;
- FD: Fréchet distance (digit-classifier features) of translations vs the real target domain, next to
  the FD of the untranslated sources vs the target domain.
Speed: seconds per training iteration (both critics + both generators) at 64 and 128 px, batch 1, of
ganforge's game and of a straightforward implementation of the paper's ResNet-9 / 70x70 PatchGAN design
written below, with the same layer sizes, timed in the same process.

    python benchmarks/cyclegan.py                       # train the demo with family defaults, then measure
    python benchmarks/cyclegan.py --model runs/cg       # measure an existing run or exported model
    python benchmarks/cyclegan.py --skip-quality --speed-iters 3
"""
from __future__ import annotations

import argparse
import json
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
from ganforge.data.dataset import to_float, to_uint8  # noqa: E402
from ganforge.data.unpaired import ink_mass, load_thickness_demo  # noqa: E402
from ganforge.export import load_players  # noqa: E402
from ganforge.games.cyclegan import CycleGANGame, CycleGANOptions, TranslationInfo  # noqa: E402
from ganforge.losses import get_loss  # noqa: E402
from ganforge.train.run_dir import resolve_defaults  # noqa: E402


# --- quality --------------------------------------------------------------------------------------
@torch.no_grad()
def translate_all(generator: nn.Module, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """float [-1, 1] translations of uint8 images, batch by batch."""
    return torch.cat([generator(to_float(images[i:i + batch])).clamp(-1, 1) for i in range(0, len(images), batch)])


def quality(model: str | Path) -> dict:
    """Label agreement, ink mass, cycle L1 and FD of both directions on the held-out demo domains."""
    from ganforge.metrics.features.digit_classifier import classify
    from ganforge.metrics.features.extractors import classifier_extractor
    from ganforge.metrics.scores.frechet import frechet_distance_features

    players, info = load_players(model)
    g_ab, g_ba = players["generator"], players["generator_b2a"]
    test = load_thickness_demo(info["image_size"], info["channels"], split="test")
    extractor = classifier_extractor("digits")

    def features(images: torch.Tensor) -> torch.Tensor:
        return torch.cat([extractor.extract(images[i:i + 1000])[0] for i in range(0, len(images), 1000)])

    out = {}
    for name, forward, back, source, target in (("a2b", g_ab, g_ba, test.a, test.b), ("b2a", g_ba, g_ab, test.b, test.a)):
        translated = translate_all(forward, source.images)
        reconstructed = translate_all(back, to_uint8(translated))
        src = to_float(source.images)
        labels = source.labels
        out[name] = {
            "n": len(source),
            "label_agreement": (classify(translated) == labels).float().mean().item(),
            "classifier_accuracy_on_sources": (classify(src) == labels).float().mean().item(),
            "ink_source": ink_mass(source.images).mean().item(),
            "ink_translated": ink_mass(to_uint8(translated)).mean().item(),
            "ink_target": ink_mass(target.images).mean().item(),
            "cycle_l1": (reconstructed - src).abs().mean().item(),
            "fd_translated_vs_target": frechet_distance_features(features(translated), features(to_float(target.images))),
            "fd_source_vs_target": frechet_distance_features(features(src), features(to_float(target.images))),
        }
    return out


# --- the reference: a straightforward implementation of the paper's design -------------------------
class RefResBlock(nn.Module):
    """Reflection pad, conv, instance norm, ReLU, reflection pad, conv, instance norm, plus the input."""

    def __init__(self, ch: int):
        super().__init__()
        self.block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch), nn.ReLU(True),
                                   nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch))

    def forward(self, x):
        return x + self.block(x)


def ref_generator(c: int, ngf: int = 64, blocks: int = 9) -> nn.Module:
    """c7s1-64, d128, d256, R256 x blocks, u128, u64, c7s1-c (Zhu et al. 2017, appendix)."""
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(c, ngf, 7), nn.InstanceNorm2d(ngf), nn.ReLU(True),
              nn.Conv2d(ngf, 2 * ngf, 3, 2, 1), nn.InstanceNorm2d(2 * ngf), nn.ReLU(True),
              nn.Conv2d(2 * ngf, 4 * ngf, 3, 2, 1), nn.InstanceNorm2d(4 * ngf), nn.ReLU(True)]
    layers += [RefResBlock(4 * ngf) for _ in range(blocks)]
    layers += [nn.ConvTranspose2d(4 * ngf, 2 * ngf, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(2 * ngf), nn.ReLU(True),
               nn.ConvTranspose2d(2 * ngf, ngf, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(ngf), nn.ReLU(True),
               nn.ReflectionPad2d(3), nn.Conv2d(ngf, c, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def ref_discriminator(c: int, ndf: int = 64) -> nn.Module:
    """C64-C128-C256-C512 70x70 PatchGAN, leaky ReLU 0.2, no norm on the first layer."""
    return nn.Sequential(nn.Conv2d(c, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(ndf, 2 * ndf, 4, 2, 1), nn.InstanceNorm2d(2 * ndf), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1), nn.InstanceNorm2d(4 * ndf), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(4 * ndf, 8 * ndf, 4, 1, 1), nn.InstanceNorm2d(8 * ndf), nn.LeakyReLU(0.2, True),
                         nn.Conv2d(8 * ndf, 1, 4, 1, 1))


class ReferenceIteration:
    """One training iteration as the paper describes it: six generator passes, then each critic in turn."""

    def __init__(self, c: int):
        self.g_a, self.g_b = ref_generator(c), ref_generator(c)
        self.d_a, self.d_b = ref_discriminator(c), ref_discriminator(c)
        self.opt_g = torch.optim.Adam(list(self.g_a.parameters()) + list(self.g_b.parameters()), 2e-4, betas=(0.5, 0.999))
        self.opt_d = torch.optim.Adam(list(self.d_a.parameters()) + list(self.d_b.parameters()), 2e-4, betas=(0.5, 0.999))
        self.pool_a, self.pool_b = [], []

    def _pool(self, pool: list, image: torch.Tensor) -> torch.Tensor:
        if len(pool) < 50:
            pool.append(image)
            return image
        if torch.rand(1).item() < 0.5:
            i = int(torch.randint(0, 50, (1,)))
            old, pool[i] = pool[i], image
            return old
        return image

    def __call__(self, real_a: torch.Tensor, real_b: torch.Tensor) -> None:
        fake_b = self.g_a(real_a)
        rec_a = self.g_b(fake_b)
        fake_a = self.g_b(real_b)
        rec_b = self.g_a(fake_a)
        for d in (self.d_a, self.d_b):
            d.requires_grad_(False)
        idt_a, idt_b = self.g_a(real_b), self.g_b(real_a)
        pred_b, pred_a = self.d_a(fake_b), self.d_b(fake_a)
        loss_g = (F.mse_loss(pred_b, torch.ones_like(pred_b)) + F.mse_loss(pred_a, torch.ones_like(pred_a))
                  + 10 * (F.l1_loss(rec_a, real_a) + F.l1_loss(rec_b, real_b))
                  + 5 * (F.l1_loss(idt_a, real_b) + F.l1_loss(idt_b, real_a)))
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        for d in (self.d_a, self.d_b):
            d.requires_grad_(True)
        self.opt_d.zero_grad()
        for d, real, fake in ((self.d_a, real_b, self._pool(self.pool_b, fake_b.detach())),
                              (self.d_b, real_a, self._pool(self.pool_a, fake_a.detach()))):
            p_real, p_fake = d(real), d(fake)
            loss = 0.5 * (F.mse_loss(p_real, torch.ones_like(p_real)) + F.mse_loss(p_fake, torch.zeros_like(p_fake)))
            loss.backward()
        self.opt_d.step()


def seconds_per_iteration(step, real_a: torch.Tensor, real_b: torch.Tensor, iters: int, warmup: int = 2) -> float:
    """Median wall-clock seconds of `step(real_a, real_b)` over `iters` runs after `warmup`."""
    for _ in range(warmup):
        step(real_a, real_b)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        step(real_a, real_b)
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def speed(sizes: tuple[int, ...], iters: int, channels: int = 3) -> dict:
    """Seconds per iteration, batch 1, of ganforge's game (paper-sized players) and of the reference."""
    out, cfg = {}, resolve_defaults(TrainConfig(model="cyclegan"))
    for size in sizes:
        torch.manual_seed(0)
        real_a, real_b = torch.rand(1, channels, size, size) * 2 - 1, torch.rand(1, channels, size, size) * 2 - 1
        row = {}
        for layout in ("channels_last", "contiguous"):
            cl = layout == "channels_last"
            game = CycleGANGame(Runtime(torch.device("cpu"), None, cl), TranslationInfo(channels, size),
                                CycleGANOptions(width=64, n_res_blocks=9, d_width=64), get_loss("least_squares"), cfg)
            fmt = torch.channels_last if cl else torch.contiguous_format

            def ours(a, b, game=game):
                batch = {"a": a, "b": b}
                game.discriminator_step(batch)
                game.generator_step(batch)

            row[f"ganforge_{layout}"] = seconds_per_iteration(ours, real_a.contiguous(memory_format=fmt),
                                                              real_b.contiguous(memory_format=fmt), iters)
        row["reference"] = seconds_per_iteration(ReferenceIteration(channels), real_a, real_b, iters)
        out[str(size)] = row
    return out


def train_demo(steps: int | None, out: Path, seed: int) -> Path:
    """Train the thin <-> thick demo with the family's defaults (and `steps` if given); return the run."""
    from ganforge.train.api import train

    cfg = TrainConfig(model="cyclegan", steps=steps, out=str(out), name=f"cyclegan-demo-seed{seed}", seed=seed)
    return train(cfg, progress=False)


def main(argv=None) -> int:
    """Run the measurements and print them as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="run folder or exported model to measure (default: train the demo first)")
    parser.add_argument("--steps", type=int, help="training steps of the demo (default: the family's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="folder for the demo run (default: a temporary folder)")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--sizes", default="64,128", help="image sizes of the speed comparison")
    parser.add_argument("--speed-iters", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = {"machine": {"cpu": describe(), "threads": torch.get_num_threads(),
                           "torch": torch.__version__}}
    if not args.skip_quality:
        model = args.model
        if model is None:
            out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="cyclegan-bench-"))
            started = time.perf_counter()
            model = train_demo(args.steps, out, args.seed)
            results["train_seconds"] = round(time.perf_counter() - started, 1)
            results["run"] = str(model)
        results["quality"] = quality(model)
    if not args.skip_speed:
        results["seconds_per_iteration_batch1"] = speed(tuple(int(s) for s in args.sizes.split(",")), args.speed_iters)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
