"""Step rate of r3gan beside stylegan at the same image size: img/s and parameters of each, on this machine.

One "image" is one real image seen by the discriminator: a round (set_phase, D step, G step) counts
batch_size images. Random images stand in for data; the EMA is not updated (the same for both). At sizes
with a CPU preset (src/ganforge/presets/r3gan-<size>-cpu.yaml) its players are measured too, with the
run's default settings (with --variants also in fp32 and without channels_last).

    flock /tmp/heavy.lock env OMP_NUM_THREADS=2 python benchmarks/r3gan_speed.py --seconds 20
    flock /tmp/heavy.lock env OMP_NUM_THREADS=2 python benchmarks/r3gan_speed.py --size 64 --only stylegan preset --variants
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig, resolve_options  # noqa: E402
from ganforge.contract import DataInfo  # noqa: E402
from ganforge.games.registry import get_family  # noqa: E402
from ganforge.train.run_dir import resolve_defaults  # noqa: E402
from ganforge.train.runtime import autocast, make_runtime  # noqa: E402

#: run settings the preset's players are also measured with (--variants); the others are the run's defaults
VARIANTS = [{"channels_last": "off"}, {"precision": "fp32"}, {"precision": "fp32", "channels_last": "off"}]


def configs(size: int, variants: bool = False) -> list[tuple[str, str, dict, dict]]:
    """(label, family, options, run settings): stylegan's CPU default; r3gan's CPU preset at this size (when there
    is one; with `variants`, also under other run settings), its default (larger) and its default with lazy penalties."""
    rows = [("stylegan default", "stylegan", {"growth": False}, {})]
    preset = ROOT / "src" / "ganforge" / "presets" / f"r3gan-{size}-cpu.yaml"
    if preset.exists():
        options = yaml.safe_load(preset.read_text(encoding="utf-8"))["options"]
        players = {k: v for k, v in options.items() if k in ("z_dim", "widths", "blocks", "group_width")}
        rows.append((f"r3gan {size}-cpu preset", "r3gan", players, {}))
        for settings in VARIANTS if variants else []:
            text = ", ".join(f"{k} {v}" for k, v in settings.items())
            rows.append((f"r3gan {size}-cpu preset, {text}", "r3gan", players, settings))
    return rows + [("r3gan default", "r3gan", {}, {}),
                   ("r3gan default, lazy R1 + R2 every 16 D steps (as stylegan's R1)", "r3gan", {"penalty_interval": 16}, {})]


def build(family_name: str, options: dict, size: int, channels: int, batch: int, settings: dict | None = None):
    """(game, runtime, batch dict) for a family with random images standing in for data."""
    cfg = resolve_defaults(TrainConfig(model=family_name, image_size=size, batch_size=batch, device="cpu", options=options,
                                       **(settings or {})))
    family = get_family(family_name)
    runtime = make_runtime(cfg)
    game = family.build(cfg, resolve_options(family.options, cfg.options, family_name), DataInfo(channels, size), runtime)
    images = runtime.place_images(torch.rand(batch, channels, size, size) * 2 - 1)
    return game, runtime, {"images": images}


def play(game, runtime, batch, rounds: int, first: int) -> None:
    """`rounds` rounds as the referee plays them, from round `first` of a long run."""
    for step in range(first, first + rounds):
        game.set_phase(step, 10 ** 6)
        with autocast(runtime):
            for _ in range(game.critic_steps):
                game.discriminator_step(batch)
            game.generator_step(batch)


def measure(label: str, family: str, options: dict, settings: dict, size: int, channels: int, batch: int, seconds: float) -> dict:
    """img/s and parameter counts of one configuration."""
    torch.manual_seed(0)
    game, runtime, data = build(family, options, size, channels, batch, settings)
    play(game, runtime, data, 3, 0)  # warm-up
    rounds, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        play(game, runtime, data, 4, 3 + rounds)
        rounds += 4
    elapsed = time.perf_counter() - start
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in game.players.items()}
    return {"config": label, "family": family, "options": options, "settings": settings, "image_size": size, "channels": channels,
            "batch_size": batch, "params_g": params["generator"], "params_d": params["discriminator"],
            "rounds": rounds, "seconds": round(elapsed, 1), "img_per_s": round(rounds * batch / elapsed, 1),
            "precision": str(runtime.autocast_dtype or "fp32"), "channels_last": runtime.channels_last,
            "machine": describe(), "threads": torch.get_num_threads()}


def main() -> int:
    """Print one JSON line per configuration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0, help="minimum timed seconds per configuration")
    parser.add_argument("--only", nargs="+", default=None, help="measure only the configurations whose label has one of these words")
    parser.add_argument("--variants", action="store_true", help="also the preset's players under other run settings")
    args = parser.parse_args()
    for label, family, options, settings in configs(args.size, args.variants):
        if args.only is None or any(word in label for word in args.only):
            print(json.dumps(measure(label, family, options, settings, args.size, args.channels, args.batch_size, args.seconds)),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
