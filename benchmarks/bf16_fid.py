"""bf16's FID shift against FID's own run-to-run noise, on real images (MNIST through TF-Inception), at a stated n.

The rule of issue #33: `--precision bf16` may become eval's default only if the FID it gives differs from
fp32's by less than FID's run-to-run noise at the same n. Three disjoint, seeded sets of `--n` real digits
from MNIST's training split, each scored as `ganforge eval` scores samples (the TF-Inception protocol:
uint8, bilinear to 299 px, TF range; reference statistics of the same precision as the samples):
  R   the reference, fixed (eval caches one reference per precision)
  X   stands in for one run's samples: features in fp32 and in bf16
  Y   a second run's samples: fp32 only
shift = |FID_bf16(X, R) - FID_fp32(X, R)|  (X and R both in bf16, against both in fp32).
noise = the standard deviation of FID_fp32(X, R) over draws of X with R fixed (what differs between two
evals of the same model with another seed), estimated from the features already extracted:
  - the grouped jackknife over X (X split into `--groups` groups, FID recomputed leaving out each group;
    FID is a smooth function of X's mean and covariance, so the jackknife variance is consistent);
  - checked by the direct, single-pair estimate |FID_fp32(Y, R) - FID_fp32(X, R)| / sqrt(2).
Cost: 3n fp32 and 2n bf16 extractions (5n images; Y, extracted last, is skipped when it would end past
`--budget` seconds). Features are saved under `--cache` as they are made, so a rerun only extracts what is
missing.

    flock /tmp/heavy.lock env OMP_NUM_THREADS=2 python benchmarks/bf16_fid.py --n 2500 --budget 540 --json bf16_fid.json  # docs/metrics.md
"""
from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe  # noqa: E402

from ganforge.data.dataset import to_float  # noqa: E402
from ganforge.data.embedded import load_mnist  # noqa: E402
from ganforge.metrics.features.extractors import tf_inception_extractor  # noqa: E402
from ganforge.metrics.scores.frechet import frechet_distance, gaussian_stats  # noqa: E402


@functools.cache
def extractor(precision: str):
    """eval's TF-Inception extractor in this precision, built once."""
    return tf_inception_extractor(precision=precision)


def features(images: torch.Tensor, precision: str, cache: Path, name: str, batch: int = 64) -> tuple[torch.Tensor, float]:
    """(TF-Inception features of uint8 images, seconds spent extracting), read from `cache` when already there."""
    file = cache / f"{name}-{precision}.pt"
    if file.is_file():
        saved = torch.load(file)
        if saved["n"] == len(images):
            return saved["features"], saved["seconds"]
    fx = extractor(precision)
    fx.extract(to_float(images[:batch]))  # warm-up: TorchScript traces and profiles on the first calls
    t = time.perf_counter()
    out = torch.cat([fx.extract(to_float(images[i:i + batch]))[0] for i in range(0, len(images), batch)])
    seconds = time.perf_counter() - t
    torch.save({"n": len(images), "features": out, "seconds": seconds}, file)
    return out, seconds


class AgainstReference:
    """FID of feature sets against one fixed reference, its square root computed once."""

    def __init__(self, reference: torch.Tensor):
        self.mu, sigma = gaussian_stats(reference)
        values, vectors = np.linalg.eigh(sigma)
        self.root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
        self.trace = float(np.trace(sigma))

    def __call__(self, feats: torch.Tensor) -> float:
        """|mu - mu_R|² + Tr(S + S_R) - 2 Tr((S_R^½ S S_R^½)^½): the same value as frechet_distance, one direction."""
        mu, sigma = gaussian_stats(feats)
        middle = self.root @ sigma @ self.root
        trace_sqrt = float(np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum())
        return float(((mu - self.mu) ** 2).sum() + np.trace(sigma) + self.trace - 2 * trace_sqrt)


def jackknife_sd(feats: torch.Tensor, fid, groups: int, seed: int) -> tuple[float, list[float]]:
    """Grouped delete-one-group jackknife standard deviation of fid(feats), and the leave-one-group-out values."""
    order = torch.randperm(len(feats), generator=torch.Generator().manual_seed(seed))
    parts = order.chunk(groups)
    values = [fid(feats[torch.cat([p for j, p in enumerate(parts) if j != g])]) for g in range(groups)]
    mean = sum(values) / groups
    return math.sqrt((groups - 1) / groups * sum((v - mean) ** 2 for v in values)), values


def fid(a: torch.Tensor, b: torch.Tensor) -> float:
    """FID between two feature sets (eval's own function)."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def measure(n: int, seed: int, groups: int, cache: Path, budget: float = math.inf) -> dict:
    """The bf16 shift and the fp32 noise at n, with every intermediate figure."""
    images = load_mnist("train").images
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    sets = {name: images[order[k * n:(k + 1) * n]] for k, name in enumerate("RXY")}
    cache.mkdir(parents=True, exist_ok=True)
    f, seconds, start = {}, {}, time.perf_counter()
    for name, precision in (("R", "fp32"), ("X", "fp32"), ("R", "bf16"), ("X", "bf16"), ("Y", "fp32")):
        if name == "Y" and time.perf_counter() - start + seconds["X_fp32"] > budget:
            print(f"Y skipped: it would end past the budget of {budget:.0f} s", flush=True)
            break
        f[name, precision], seconds[f"{name}_{precision}"] = features(sets[name], precision, cache, f"mnist-train-seed{seed}-n{n}-{name}")
        print(f"{name} {precision}: {n / seconds[f'{name}_{precision}']:.1f} images/s", flush=True)
    fp32_xr, bf16_xr = fid(f["X", "fp32"], f["R", "fp32"]), fid(f["X", "bf16"], f["R", "bf16"])
    fp32_yr = fid(f["Y", "fp32"], f["R", "fp32"]) if ("Y", "fp32") in f else None
    against = AgainstReference(f["R", "fp32"])
    sd, loo = jackknife_sd(f["X", "fp32"], against, groups, seed)
    xb, xf = f["X", "bf16"], f["X", "fp32"]
    rel = (xb - xf).norm(dim=1) / xf.norm(dim=1)
    shift = abs(bf16_xr - fp32_xr)
    return {
        "machine": describe(), "data": "MNIST training split (embedded), disjoint seeded sets R, X, Y",
        "n": n, "seed": seed, "protocol": extractor("fp32").protocol,
        "extraction_seconds": seconds,
        "fid_fp32_X_R": fp32_xr, "fid_bf16_X_R": bf16_xr, "fid_fp32_Y_R": fp32_yr,
        "shift": shift,
        "fid_same_images_fp32_vs_bf16": fid(xf, xb),
        "features_bf16_vs_fp32_relative_l2": {"median": float(rel.median()), "max": float(rel.max())},
        "noise_jackknife_sd": sd, "jackknife_groups": groups, "jackknife_leave_one_group_out": loo,
        "jackknife_check_fid_fp32_X_R_one_direction": against(f["X", "fp32"]),
        "noise_direct_pair_estimate": None if fp32_yr is None else abs(fp32_yr - fp32_xr) / math.sqrt(2),
        "shift_below_noise": shift < sd,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=3000, help="images per set (3 sets, 5n extractions)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--groups", type=int, default=20, help="jackknife groups")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/gf/bf16_fid"))
    parser.add_argument("--budget", type=float, default=math.inf, help="seconds: skip Y when extracting it would end later")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    if not 2 <= args.groups <= args.n or 3 * args.n > 60000:
        parser.error("expected 2 <= --groups <= --n and 3 * --n <= 60000 (MNIST's training split)")
    out = measure(args.n, args.seed, args.groups, args.cache, args.budget)
    text = json.dumps(out, indent=2)
    print(text)
    print(f"n = {args.n}: shift {out['shift']:.4f} vs noise (jackknife sd) {out['noise_jackknife_sd']:.4f}, "
          f"direct pair {out['noise_direct_pair_estimate']}: bf16 {'below' if out['shift_below_noise'] else 'NOT below'} the noise")
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
