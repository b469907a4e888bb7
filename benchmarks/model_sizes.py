"""Parameters and checkpoint size of the families whose width grows with image size (#33 item 1).

For dcgan, cgan (DCGAN base, 10 classes) and vae at 32 / 64 / 128 / 256 px, RGB: each player's
parameter count and the size of a training checkpoint's tensors, counted as every player's state
plus Adam's two moments per parameter plus the generator's EMA copy (what `train/checkpoint.py`
saves, less a few kilobytes of RNG state and JSON). A count, not a time: no machine state matters.

    python benchmarks/model_sizes.py            # a Markdown table on stdout
    python benchmarks/model_sizes.py --json sizes.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from torch import nn  # noqa: E402

from ganforge.models.cgan import ConditionalDCGANDiscriminator, ConditionalDCGANGenerator  # noqa: E402
from ganforge.models.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from ganforge.models.vae import Decoder, Encoder  # noqa: E402

SIZES = (32, 64, 128, 256)
CHANNELS = 3


def players(family: str, size: int) -> tuple[nn.Module, nn.Module]:
    """(generator, other player) of `family` at `size` px with default options."""
    if family == "dcgan":
        return DCGANGenerator(channels=CHANNELS, image_size=size), DCGANDiscriminator(channels=CHANNELS, image_size=size)
    if family == "cgan":
        return (ConditionalDCGANGenerator(channels=CHANNELS, image_size=size, num_classes=10),
                ConditionalDCGANDiscriminator(channels=CHANNELS, image_size=size, num_classes=10))
    return Decoder(channels=CHANNELS, image_size=size), Encoder(channels=CHANNELS, image_size=size)


def state_bytes(module: nn.Module) -> int:
    """Bytes of a module's state dict (parameters and buffers)."""
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def param_bytes(module: nn.Module) -> int:
    """Bytes of a module's trainable parameters."""
    return sum(p.numel() * p.element_size() for p in module.parameters() if p.requires_grad)


def measure() -> list[dict]:
    """One row per family and size."""
    rows = []
    for family in ("dcgan", "cgan", "vae"):
        for size in SIZES:
            g, d = players(family, size)
            checkpoint = state_bytes(g) + state_bytes(d) + 2 * (param_bytes(g) + param_bytes(d)) + state_bytes(g)
            rows.append({"family": family, "image_size": size,
                         "generator_params": sum(p.numel() for p in g.parameters()),
                         "other_params": sum(p.numel() for p in d.parameters()),
                         "export_mb": round(state_bytes(g) / 1e6, 1), "checkpoint_mb": round(checkpoint / 1e6, 1)})
    return rows


def main() -> None:
    """Print the table (and write JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = measure()
    print("| family | px | G params | D / encoder params | export MB | checkpoint MB |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['family']} | {r['image_size']} | {r['generator_params']:,} | {r['other_params']:,} "
              f"| {r['export_mb']} | {r['checkpoint_mb']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
