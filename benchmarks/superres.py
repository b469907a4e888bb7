"""Super-resolution on real photographs: the PSNR phase against bicubic, then the GAN phase; tiled upscaling's peak RSS.

One run of `--model srgan` with two phases: a short probe measures seconds per round of each phase,
then the run is sized so its PSNR phase lasts `--psnr-minutes` and its GAN phase `--gan-minutes`
(psnr_fraction = PSNR rounds / all rounds). A callback exports the EMA generator at the switch (the
"PSNR model"); the run's final export is the "GAN model". Both and bicubic are scored on the held-out
photographs at full size (ganforge.metrics.superres: Y-PSNR, Y-SSIM with a scale-px border cut, and
the high-frequency energy ratio against the original). Figures: side-by-side crops
bicubic | PSNR model | GAN model | original of each held-out photo, at the most detailed place.
Memory: the peak RSS of a separate `ganforge upscale` process upscaling a 1920x1080 photo with tiles.

    flock /tmp/gf-heavy.lock python benchmarks/superres.py --data /usr/share/backgrounds/mate/nature \\
        --psnr-minutes 20 --gan-minutes 8 --out runs/bench-superres
    flock /tmp/gf-heavy.lock python benchmarks/superres.py --rss-only --model runs/bench-superres/gan-export \\
        --image /usr/share/backgrounds/mate/abstract/Elephants.jpg
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig  # noqa: E402
from ganforge.contract import Callback  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def config(args: argparse.Namespace, name: str, steps: int, psnr_fraction: float) -> TrainConfig:
    """The run's config: ESRGAN's losses and Adam betas, a CPU-sized RRDB net, the given budget split."""
    options = dict(scale=args.scale, blocks=args.blocks, features=args.features, growth=args.growth, crop=args.crop,
                   discriminator=args.discriminator, d_width=args.d_width, psnr_fraction=psnr_fraction)
    return TrainConfig(model="srgan", data=args.data, steps=steps, batch_size=args.batch_size, seed=args.seed, out=str(args.out),
                       name=name, lr_g=2e-4, lr_d=2e-4, beta1=0.9, beta2=0.99, ema_decay=args.ema_decay, log_every=25,
                       sample_every=10 ** 9, checkpoint_every=10 ** 9, options=options)


class Pace(Callback):
    """Seconds per round after a warm-up, per phase."""

    def __init__(self):
        self.marks: dict[str, list[float]] = {"psnr": [], "gan": []}

    def on_round_end(self, trainer, step: int) -> None:
        self.marks[trainer.game.phase].append(time.perf_counter())

    def per_round(self, phase: str) -> float:
        """Median gap between rounds of `phase`, its first two rounds left out."""
        t = self.marks[phase][2:]
        gaps = sorted(b - a for a, b in zip(t, t[1:]))
        return gaps[len(gaps) // 2]


class SnapshotAt(Callback):
    """Exports the sample (EMA) generator right after round `step`: the PSNR-phase model."""

    def __init__(self, step: int, folder: Path):
        self.step, self.folder, self.seconds = step, folder, None

    def on_round_end(self, trainer, step: int) -> None:
        if step == self.step:
            from ganforge.export import save_players

            info = {**trainer.game.export_info(), "family": "srgan", "data": trainer.cfg.data, "steps": step}
            save_players(trainer.game.export_players(trainer.sample_generator), info, self.folder)
            self.seconds = trainer.elapsed


def probe(args: argparse.Namespace) -> tuple[float, float]:
    """(seconds per PSNR round, seconds per GAN round) from a short throwaway run of the same players and data."""
    from ganforge.train.api import train

    pace = Pace()
    psnr_rounds, gan_rounds = 14, 6
    cfg = config(args, "probe", psnr_rounds + gan_rounds, psnr_rounds / (psnr_rounds + gan_rounds))
    shutil.rmtree(args.out / "probe", ignore_errors=True)
    train(cfg, callbacks=[pace])
    shutil.rmtree(args.out / "probe", ignore_errors=True)
    return pace.per_round("psnr"), pace.per_round("gan")


def detailed_window(image: torch.Tensor, side: int) -> tuple[int, int]:
    """(top, left) of the `side`-px window with the most Laplacian energy in the luma of a uint8 (C, H, W) image."""
    import torch.nn.functional as F

    from ganforge.metrics.scores.psnr_ssim import rgb_to_y

    y = rgb_to_y(image[None].float())
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    energy = F.avg_pool2d(F.conv2d(y, k, padding=1).square(), side, stride=side // 2)
    index = int(energy.flatten().argmax())
    return (index // energy.shape[-1]) * (side // 2), (index % energy.shape[-1]) * (side // 2)


def crops_figure(kept: dict, side: int, path: Path) -> None:
    """Rows per held-out photo: bicubic | PSNR model | GAN model | original, each `side` px, labelled."""
    from PIL import Image, ImageDraw

    names = list(kept)
    label_h, gap = 18, 4
    sheet = Image.new("RGB", (4 * side + 3 * gap, len(names) * (side + label_h + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, name in enumerate(names):
        row = kept[name]
        top, left = detailed_window(row["original"], side)
        y0 = r * (side + label_h + gap)
        for c, (label, img) in enumerate((("bicubic", row["bicubic"]), ("PSNR model", row["psnr"]),
                                          ("GAN model", row["gan"]), ("original", row["original"]))):
            part = img[:, top:top + side, left:left + side].permute(1, 2, 0).numpy()
            tile = Image.fromarray(part.squeeze(-1) if part.shape[-1] == 1 else part).convert("RGB")
            x0 = c * (side + gap)
            sheet.paste(tile, (x0, y0 + label_h))
            draw.text((x0 + 2, y0 + 3), f"{label} ({name})" if c == 0 else label, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def measure_rss(model: Path, image: Path, tile: int, out: Path) -> dict:
    """Peak RSS (GNU time's maximum resident set size) and seconds of `ganforge upscale` on one image in its own process."""
    shutil.rmtree(out, ignore_errors=True)
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "ganforge", "upscale", str(model), str(image), "--out", str(out),
               "--tile", str(tile), "--no-progress"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if done.returncode != 0 or match is None:
        return {"error": done.stderr.strip().splitlines()[-1:] if done.stderr else f"exit {done.returncode}"}
    from PIL import Image

    written = sorted(out.glob("*.png"))
    size = Image.open(written[0]).size if written else None
    with Image.open(image) as im:
        in_size = im.size
    return {"image": str(image), "input_size": list(in_size), "output_size": list(size) if size else None, "tile": tile,
            "peak_rss_mib": int(match.group(1)) / 1024, "seconds": round(seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="/usr/share/backgrounds/mate/nature")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-superres"))
    parser.add_argument("--psnr-minutes", type=float, default=20.0)
    parser.add_argument("--gan-minutes", type=float, default=8.0)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--growth", type=int, default=16)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--discriminator", default="unet")
    parser.add_argument("--d-width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--ema-decay", type=float, default=0.99)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-crop", type=int, default=None, help="score the central N px of each held-out photo (default: whole)")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "img" / "superres-crops.png")
    parser.add_argument("--figure-side", type=int, default=128)
    parser.add_argument("--rss-image", type=Path, default=Path("/usr/share/backgrounds/mate/abstract/Elephants.jpg"))
    parser.add_argument("--rss-tile", type=int, default=128)
    parser.add_argument("--rss-only", action="store_true", help="only measure the peak RSS of upscaling --rss-image with --model")
    parser.add_argument("--model", type=Path, help="with --rss-only: the exported model")
    parser.add_argument("--finish-by", default="14:30", help="UTC HH:MM by which training must end; both phases shrink in "
                        "proportion when the planned minutes do not fit (default 14:30; 'none' for no limit)")
    args = parser.parse_args()
    print(f"machine: {describe()}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.rss_only:
        rss = measure_rss(args.model, args.rss_image, args.rss_tile, args.out / "rss-out")
        print(json.dumps({"rss": rss}, indent=2))
        return 0

    from ganforge.export import load_generator
    from ganforge.metrics.superres import evaluate_superres, format_superres
    from ganforge.train.api import train

    if args.finish_by != "none":
        import datetime

        now = datetime.datetime.now(datetime.timezone.utc)
        hour, minute = (int(v) for v in args.finish_by.split(":"))
        left = (now.replace(hour=hour, minute=minute, second=0, microsecond=0) - now).total_seconds() / 60 - 1.5  # the probe
        planned = args.psnr_minutes + args.gan_minutes
        if left < planned:
            shrink = max(0.05, left / planned)
            print(f"reduced: {planned:.1f} planned minutes do not fit before {args.finish_by} UTC; both phases x{shrink:.2f}", flush=True)
            args.psnr_minutes *= shrink
            args.gan_minutes *= shrink
    psnr_pace, gan_pace = probe(args)
    psnr_steps = max(1, round(args.psnr_minutes * 60 / psnr_pace))
    gan_steps = max(1, round(args.gan_minutes * 60 / gan_pace))
    total = psnr_steps + gan_steps
    fraction = Fraction(psnr_steps, total)
    print(f"probe: {psnr_pace:.3f} s per PSNR round, {gan_pace:.3f} s per GAN round -> {psnr_steps} + {gan_steps} rounds", flush=True)
    name = f"srgan-x{args.scale}-seed{args.seed}"
    shutil.rmtree(args.out / name, ignore_errors=True)
    snapshot = SnapshotAt(psnr_steps, args.out / "psnr-export")
    cfg = config(args, name, total, float(fraction))
    started = time.perf_counter()
    run = train(cfg, callbacks=[snapshot])
    wall = time.perf_counter() - started
    shutil.rmtree(args.out / "gan-export", ignore_errors=True)
    shutil.copytree(run / "export", args.out / "gan-export")
    kept: dict = {}
    results = {"machine": describe(), "seed": args.seed, "psnr_minutes_planned": args.psnr_minutes,
               "gan_minutes_planned": args.gan_minutes, "config": cfg.to_dict(), "psnr_rounds": psnr_steps, "gan_rounds": gan_steps,
               "psnr_phase_seconds": snapshot.seconds, "train_seconds": wall}
    for label, folder in (("psnr", args.out / "psnr-export"), ("gan", run / "export")):
        generator, info = load_generator(folder)

        def keep(name, original, lr, bicubic, output, label=label):
            kept.setdefault(name, {"original": original, "bicubic": bicubic})[label] = output

        t = time.perf_counter()
        scores = evaluate_superres(generator, info, crop=args.eval_crop, keep=keep)
        scores["eval_seconds"] = round(time.perf_counter() - t, 1)
        results[label] = scores
        print(f"--- {label} model ({info['steps']} rounds)\n{format_superres(scores)}", flush=True)
    crops_figure(kept, args.figure_side, args.figure)
    results["figure"] = str(args.figure)
    results["rss"] = measure_rss(args.out / "gan-export", args.rss_image, args.rss_tile, args.out / "rss-out")
    print(json.dumps({k: results[k] for k in ("psnr_rounds", "gan_rounds", "psnr_phase_seconds", "train_seconds", "rss")}, indent=2))
    (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {args.out / 'results.json'} and {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
