"""Data speed: `ganforge prepare` throughput, the prepared loader's images/s, StyleGAN-128 training images/s, and super-resolution batches.

Builds a folder of N image files (real pictures: the 128 and 256 px PNG icons of oxygen-icon-theme,
`apt-get install oxygen-icon-theme`, linked round-robin until there are N; without them, synthetic
PNGs), prepares it at S px with `prepare_folder`, then reads it with `PreparedSource` (background
thread, batch B) from the page cache ("warm") and after evicting the file from it ("cold", by
posix_fadvise DONTNEED), and times StyleGAN rounds at S px on this CPU: the family's small CPU
network and the stylegan-128 preset (the preset's network at a smaller batch; img/s barely depends
on it). Peak RSS of each phase is read from VmHWM after resetting it (Linux /proc/self/clear_refs).

The super-resolution section times `SuperResBatchSource` batches (16 crops of 128 px at x4 by default)
with the LR made by bicubic and by Real-ESRGAN's degradation (`degradation=realesrgan`), against the
round time of the CPU srgan configuration of docs/superres.md (4 blocks, 32 features, growth 16, U-Net
D width 16): its PSNR round (G step) and its GAN round (D and G steps) on a fixed batch.

    python benchmarks/data_speed.py                      # 20,000 images at 128 px (about 1 GB in the work folder)
    python benchmarks/data_speed.py --images 500 --quick # smoke test
    python benchmarks/data_speed.py --superres-only      # the super-resolution section alone (mate-backgrounds photos)
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig, resolve_options  # noqa: E402
from ganforge.contract import DataInfo  # noqa: E402
from ganforge.data.prepare import prepare_folder  # noqa: E402
from ganforge.data.prepared import IMAGES, PreparedSource, open_prepared  # noqa: E402
from ganforge.games.registry import get_family  # noqa: E402
from ganforge.train.run_dir import resolve_defaults  # noqa: E402
from ganforge.train.runtime import autocast, make_runtime  # noqa: E402

ICONS = Path("/usr/share/icons/oxygen")
PRESET = ROOT / "src" / "ganforge" / "presets" / "stylegan-128.yaml"
PHOTOS = Path("/usr/share/backgrounds/mate/nature")  # Debian's mate-backgrounds: 12 JPEG photographs


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def reset_peak() -> None:
    """Start a new peak-RSS window (VmHWM) where the kernel allows it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mib() -> float:
    """Peak RSS (VmHWM) since the last reset, in MiB."""
    return _status("VmHWM") / 2**20


def make_folder(folder: Path, n: int) -> str:
    """N image files in `folder` (links to real icons when installed, else synthetic PNGs); says which."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    icons = sorted(p for p in ICONS.rglob("*.png") if "128x128" in str(p) or "256x256" in str(p)) if ICONS.is_dir() else []
    if icons:
        for i in range(n):
            os.symlink(icons[i % len(icons)], folder / f"{i:06d}.png")
        return f"{len(icons)} distinct oxygen-icon-theme PNGs (128 and 256 px, RGBA) linked round-robin to {n} files"
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:160, 0:200]
    for i in range(n):
        base = (np.sin(x / (7 + i % 13)) + np.cos(y / (5 + i % 11))) * 60 + 128
        pixels = np.clip(base[..., None] + rng.normal(0, 20, (160, 200, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:06d}.png")
    return f"{n} synthetic 200x160 RGB PNGs"


def evict(path: Path) -> None:
    """Drop a file's pages from the page cache (clean pages only; no root needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def loader_speed(data_dir: Path, batch: int, batches: int, prefetch: int = 2) -> float:
    """Images/s drawn by PreparedSource (float [-1, 1] batches on the CPU) over `batches` batches."""
    with open_prepared(data_dir) as data:
        source = PreparedSource(data, batch, seed=0, device=torch.device("cpu"), prefetch=prefetch)
        source.next()
        start = time.perf_counter()
        for _ in range(batches):
            source.next()
        seconds = time.perf_counter() - start
        source.close()
    return batches * batch / seconds


def stylegan_game(values: dict, size: int, batch: int):
    """(game, runtime, cfg) for StyleGAN config values at `size` px and `batch`, grown to full size."""
    cfg = resolve_defaults(TrainConfig(**{**values, "model": "stylegan", "image_size": size, "batch_size": batch, "device": "cpu"}))
    family = get_family("stylegan")
    runtime = make_runtime(cfg)
    game = family.build(cfg, resolve_options(family.options, cfg.options, "stylegan"), DataInfo(3, size), runtime)
    game.set_phase(1, 1)
    game.train_mode(True)
    return game, runtime, cfg


def train_speed(game, runtime, next_batch, rounds: int, warmup: int = 2) -> float:
    """Images/s of `rounds` StyleGAN rounds (D step + G step; batch size real images each) after `warmup` rounds."""
    def play(n: int) -> int:
        seen = 0
        for _ in range(n):
            with autocast(runtime):
                batch = next_batch()
                game.discriminator_step(batch)
                game.generator_step(next_batch())
            seen += batch["images"].shape[0]
        return seen

    play(warmup)
    start = time.perf_counter()
    seen = play(rounds)
    return seen / (time.perf_counter() - start)


def superres_images(folder: Path, crop: int):
    """(SuperResData of the photos in `folder`, a sentence saying which); synthetic 512-px pictures when it is missing."""
    from ganforge.data.superres import load_images, split_files, superres_from_tensor

    if folder.is_dir():
        train, _ = split_files(folder, 4)
        return load_images(train), f"{len(train)} training photos of {folder} (every 4th held out)"
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:512, 0:512]
    base = np.stack([(np.sin(x / (5 + i)) + np.cos(y / (3 + i))) * 60 + 128 for i in range(8)])[:, None].repeat(3, 1)
    images = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
    return superres_from_tensor(torch.from_numpy(images)), "8 synthetic 512x512 RGB pictures"


def superres_loader_speed(data, batch: int, crop: int, scale: int, degradation: str, batches: int) -> dict:
    """Seconds per batch and images/s of SuperResBatchSource on the CPU with the LR made by `degradation`."""
    from ganforge.data.superres import SuperResBatchSource, make_degradation

    source = SuperResBatchSource(data, batch, seed=0, device=torch.device("cpu"), crop=crop, scale=scale,
                                 degradation=make_degradation(degradation))
    source.next()
    start = time.perf_counter()
    for _ in range(batches):
        source.next()
    seconds = (time.perf_counter() - start) / batches
    return {"seconds_per_batch": round(seconds, 4), "images_per_s": round(batch / seconds, 1), "batch": batch, "batches": batches}


def srgan_round_seconds(batch: int, crop: int, scale: int, rounds: int, data=None) -> dict:
    """Seconds per PSNR round (G step) and per GAN round (D and G steps) of the CPU srgan configuration on a fixed batch,
    and per PSNR round drawing each batch from the source (bicubic, realesrgan) of `data` when given."""
    from ganforge.games.srgan import SuperResInfo

    options = {"scale": scale, "blocks": 4, "features": 32, "growth": 16, "d_width": 16, "crop": crop}
    cfg = resolve_defaults(TrainConfig(model="srgan", batch_size=batch, device="cpu", options=options))
    family = get_family("srgan")
    runtime = make_runtime(cfg)
    game = family.build(cfg, resolve_options(family.options, cfg.options, "srgan"), SuperResInfo(3, crop, scale=scale), runtime)
    game.train_mode(True)
    fmt = torch.channels_last if runtime.channels_last else torch.contiguous_format
    fixed = {"a": (torch.rand(batch, 3, crop // scale, crop // scale) * 2 - 1).contiguous(memory_format=fmt),
             "b": (torch.rand(batch, 3, crop, crop) * 2 - 1).contiguous(memory_format=fmt)}
    result = {"precision": str(runtime.autocast_dtype or "fp32"), "batch": batch, "rounds": rounds}
    def play(n: int, gan: bool, draw=lambda: fixed) -> None:
        for _ in range(n):
            with autocast(runtime):
                batch = draw()
                if gan:
                    game.discriminator_step(batch)
                game.generator_step(batch)

    for phase, step in (("psnr", 0), ("gan", 1)):
        game.set_phase(step, 2 if phase == "psnr" else 1)  # psnr_fraction 0.5: round 0 of 2 is PSNR, round 1 of 1 is GAN
        play(1, phase == "gan")
        start = time.perf_counter()
        play(rounds, phase == "gan")
        result[f"{phase}_seconds_per_round"] = round((time.perf_counter() - start) / rounds, 3)
    if data is not None:
        from ganforge.data.superres import SuperResBatchSource, make_degradation

        game.set_phase(0, 2)
        for degradation in ("bicubic", "realesrgan"):
            source = SuperResBatchSource(data, batch, seed=0, device=runtime.device, crop=crop, scale=scale,
                                         channels_last=runtime.channels_last, degradation=make_degradation(degradation))
            play(1, False, source.next)
            start = time.perf_counter()
            play(rounds, False, source.next)
            result[f"psnr_seconds_per_round_from_{degradation}_source"] = round((time.perf_counter() - start) / rounds, 3)
    return result


def superres_section(args: argparse.Namespace) -> dict:
    """Loader seconds per batch (bicubic, realesrgan) against the CPU srgan round time; prints one JSON line each."""
    torch.manual_seed(0)
    data, said = superres_images(Path(args.sr_data), args.sr_crop)
    out: dict = {"source": said, "crop": args.sr_crop, "scale": args.sr_scale}
    for degradation in ("bicubic", "realesrgan"):
        out[f"loader_{degradation}"] = superres_loader_speed(data, args.sr_batch, args.sr_crop, args.sr_scale, degradation, args.sr_batches)
        print(json.dumps({f"superres_loader_{degradation}": out[f"loader_{degradation}"]}))
    out["srgan_cpu_round"] = srgan_round_seconds(args.sr_batch, args.sr_crop, args.sr_scale, args.sr_rounds, data)
    print(json.dumps({"srgan_cpu_round": out["srgan_cpu_round"]}))
    loader = out["loader_realesrgan"]["seconds_per_batch"]
    step = out["srgan_cpu_round"]["psnr_seconds_per_round"]
    out["realesrgan_batch_over_psnr_round"] = round(loader / step, 3)
    print(f"summary: a realesrgan batch takes {loader:.3f} s, {100 * loader / step:.0f}% of the fastest srgan round "
          f"({step:.3f} s, PSNR phase); bicubic {out['loader_bicubic']['seconds_per_batch']:.3f} s")
    return out


def main() -> None:
    """Measure and print one JSON line per figure, then a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32, help="loader batch (the stylegan-128 preset's)")
    parser.add_argument("--preset-batch", type=int, default=8, help="batch for timing the preset's network")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per StyleGAN network")
    parser.add_argument("--work", help="folder for the image files and the prepared set (default: a temporary one, removed)")
    parser.add_argument("--quick", action="store_true", help="skip the preset's network")
    parser.add_argument("--superres-only", action="store_true", help="run only the super-resolution section")
    parser.add_argument("--sr-data", default=str(PHOTOS), help="photos for the super-resolution section (synthetic if missing)")
    parser.add_argument("--sr-batch", type=int, default=16)
    parser.add_argument("--sr-crop", type=int, default=128)
    parser.add_argument("--sr-scale", type=int, default=4)
    parser.add_argument("--sr-batches", type=int, default=30, help="timed loader batches per degradation")
    parser.add_argument("--sr-rounds", type=int, default=5, help="timed srgan rounds per phase")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    if args.superres_only:
        print(json.dumps({"machine": describe(), "superres": superres_section(args)}))
        return
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ganforge-data-speed-"))
    results: dict = {"machine": describe(), "images": args.images, "size": args.size}
    try:
        folder, data_dir = work / "pictures", work / "prepared"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)
        results["source"] = make_folder(folder, args.images)
        print(f"source: {results['source']}")

        reset_peak()
        start = time.perf_counter()
        header = prepare_folder(folder, data_dir, args.size, progress=False)
        seconds = time.perf_counter() - start
        results["prepare"] = {"seconds": round(seconds, 1), "images_per_s": round(header.count / seconds, 1),
                              "peak_rss_mib": round(peak_mib()), "gib_on_disk": round((data_dir / IMAGES).stat().st_size / 2**30, 3)}
        print(json.dumps({"prepare": results["prepare"]}))

        epoch = args.images // args.batch
        for state in ("warm", "cold"):
            if state == "cold":
                evict(data_dir / IMAGES)
            reset_peak()
            speed = loader_speed(data_dir, args.batch, epoch)
            results[f"loader_{state}"] = {"images_per_s": round(speed), "batch": args.batch, "batches": epoch,
                                          "peak_rss_mib": round(peak_mib())}
            print(json.dumps({f"loader_{state}": results[f"loader_{state}"]}))

        torch.manual_seed(0)
        nets = [("family defaults (CPU net)", {"options": {"growth": False}}, args.batch)]
        if not args.quick:
            nets.append(("stylegan-128 preset net", yaml.safe_load(PRESET.read_text()), args.preset_batch))
        for name, values, batch in nets:
            values = {k: v for k, v in values.items() if k not in ("model", "image_size", "batch_size")}
            reset_peak()
            game, runtime, cfg = stylegan_game(values, args.size, batch)
            fixed = {"images": torch.rand(batch, 3, args.size, args.size) * 2 - 1}
            if runtime.channels_last:
                fixed["images"] = fixed["images"].contiguous(memory_format=torch.channels_last)
            rounds = 4 * args.rounds if name.startswith("family") else args.rounds  # the small net: more, shorter rounds
            speed = train_speed(game, runtime, lambda fixed=fixed: fixed, rounds)
            entry = {"train_images_per_s": round(speed, 2), "batch": batch, "rounds": rounds,
                     "precision": str(runtime.autocast_dtype or "fp32"), "peak_rss_mib": round(peak_mib())}
            if name.startswith("family"):  # the small net also trains from the prepared set through the loader
                with open_prepared(data_dir) as data:
                    source = PreparedSource(data, batch, seed=0, device=runtime.device, channels_last=runtime.channels_last)
                    entry["train_from_loader_images_per_s"] = round(train_speed(game, runtime, source.next, rounds), 2)
                    entry["train_again_fixed_batch_images_per_s"] = round(train_speed(game, runtime, lambda fixed=fixed: fixed, rounds), 2)
                    source.close()
            results[name] = entry
            print(json.dumps({name: entry}))
            del game
        fastest = max(v["train_images_per_s"] for k, v in results.items() if isinstance(v, dict) and "train_images_per_s" in v)
        slowest_loader = min(results["loader_warm"]["images_per_s"], results["loader_cold"]["images_per_s"])
        results["loader_over_fastest_training"] = round(slowest_loader / fastest, 1)
        results["superres"] = superres_section(args)
        print(f"summary: the loader gives {slowest_loader} img/s (the slower of warm and cold cache), "
              f"{results['loader_over_fastest_training']}x the fastest StyleGAN-{args.size} training ({fastest} img/s); target >= 5x")
        print(json.dumps(results))
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
