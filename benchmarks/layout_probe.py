"""Which modules of each family receive their output's gradient in another memory layout than the output's.

    python benchmarks/layout_probe.py                     # dcgan cgan stylegan r3gan fastgan
    python benchmarks/layout_probe.py --models fastgan

One bf16 channels-last round of each family's defaults on random images (`speed.make_game`): every leaf module that
does not work in place gets a gradient hook on its channels-last output, counting gradients that arrive plain
contiguous. On a CPU such a gradient can send the module's own backward down a slow mixed-layout path (FastGAN's
BatchNorms behind `nn.GLU`, 3–16× a call: docs/fastgan.md, "A faster round"). A count says where to look, not
what it costs: time the round before and after a fix.
"""
from __future__ import annotations

import argparse
import collections
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from ganforge.nn.glu_blocks import memory_format_of  # noqa: E402

MODELS = {"dcgan": dict(image_size=64, channels=3), "cgan": {}, "stylegan": {},
          "r3gan": dict(image_size=32, channels=3), "fastgan": dict(image_size=64, channels=3)}


def is_channels_last(t: Tensor) -> bool:
    """A 4-d map laid out NHWC and not also NCHW (maps of one pixel are both)."""
    return memory_format_of(t) == torch.channels_last


def is_plain_contiguous(t: Tensor) -> bool:
    """A 4-d map laid out NCHW and not also NHWC."""
    return t.dim() == 4 and t.is_contiguous() and not t.is_contiguous(memory_format=torch.channels_last)


def mixed_layout_outputs(players: dict[str, nn.Module], play: Callable[[], None]) -> collections.Counter:
    """Run `play` once; count, per "player.module Type", the gradients that reached a channels-last output contiguous."""
    counts: collections.Counter = collections.Counter()

    def on_output(key: str):
        def hook(module, inputs, output):
            if isinstance(output, Tensor) and output.requires_grad and is_channels_last(output):
                output.register_hook(lambda grad: counts.update([key]) if is_plain_contiguous(grad) else None)
        return hook

    handles = [m.register_forward_hook(on_output(f"{name}.{path} {type(m).__name__}"))
               for name, player in players.items() for path, m in player.named_modules()
               if not list(m.children()) and not getattr(m, "inplace", False)]
    try:
        play()
    finally:
        for handle in handles:
            handle.remove()
    return counts


def probe(model: str) -> collections.Counter:
    """The counts of one bf16 channels-last round of `model`'s defaults (batch 8)."""
    from speed import make_game, round_once

    game, runtime, data = make_game(model, 8, "bf16", "on", **MODELS[model])
    return mixed_layout_outputs(game.players, lambda: round_once(game, runtime, data))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    for model in args.models:
        counts = probe(model)
        print(f"{model}: " + (", ".join(f"{key} ×{n}" for key, n in sorted(counts.items())) if counts else "none"), flush=True)


if __name__ == "__main__":
    main()
