"""Cost of the copy check: 1,000 samples against 10,000 training images, leave-one-out reference (no held-out split).

Random uint8 pictures stand in for real ones (the cost depends on the counts and sizes, not the content).
Times each part (the samples' nearest training images; the leave-one-out reference of 2,000 training images)
at 32 px gray (MNIST's size), 64 px colour (the largest pixel space: bigger pictures are area-averaged to
64 px first) and, with --with-256, 256 px colour pictures (averaged down to 64 px); best of `--repeat` runs,
and the peak RSS of the process so far.

    python benchmarks/copy_check.py                  # 1,000 x 10,000
    python benchmarks/copy_check.py --train 2000     # smoke test
"""
from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.metrics.copy_check import pixel_space  # noqa: E402
from ganforge.metrics.scores.memorisation import REFERENCE_IMAGES, copy_check  # noqa: E402


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(samples: int, train: int, channels: int, size: int, repeat: int) -> dict:
    """Best-of-`repeat` seconds of one copy check, with its settings."""
    g = torch.Generator().manual_seed(0)
    train_images = torch.randint(0, 256, (train, channels, size, size), dtype=torch.uint8, generator=g)
    sample_images = torch.randint(0, 256, (samples, channels, size, size), dtype=torch.uint8, generator=g)
    features, space = pixel_space(size)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        check = copy_check(sample_images, train_images, features=features, space=space)
        times.append(time.perf_counter() - start)
    return {"samples": samples, "train": train, "picture": f"{channels}x{size}x{size}", "space": space,
            "reference": check.reference, "n_reference": len(check.reference_distance), "seconds": round(min(times), 2),
            "peak_rss_mb": round(peak_rss_mb())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--with-256", action="store_true", help="also 256 px colour pictures (2 GB of uint8 at 10,000)")
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    print(f"machine: {describe()}; reference: leave-one-out over {REFERENCE_IMAGES} training images", flush=True)
    rows = []
    for channels, size in ((1, 32), (3, 64)) + (((3, 256),) if args.with_256 else ()):
        row = measure(args.samples, args.train, channels, size, args.repeat)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"machine": describe(), "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
