"""×4 super-resolution against bicubic on photos of another source: a PSNR model at 5/10/20 CPU-minutes, then a GAN phase.

Training: a handful of real photographs from a Debian package (default: the eight photographs among
`plasma-workspace-wallpapers`' wallpapers, 2560x1600 JPEG; `apt-get install plasma-workspace-wallpapers`), linked
into one folder. Held out: the photographs scikit-image ships in its wheel (astronaut, chelsea, coffee, rocket,
motorcycle = stereo_motorcycle's left image, hubble_deep_field, retina), never seen in training.

    # PSNR phase (L1 alone) for 20 minutes of wall time, the EMA generator exported at 5, 10 and 20 minutes
    flock /tmp/heavy.lock python benchmarks/superres_photos.py psnr --minutes 20 --marks 5,10,20
    # GAN phase from the 10-minute PSNR model, 10 minutes
    flock /tmp/heavy.lock python benchmarks/superres_photos.py gan --init runs/bench-photos/psnr-10min --minutes 10
    # score every export found (bicubic in the same table), textured crops, the side-by-side figure
    flock /tmp/heavy.lock python benchmarks/superres_photos.py score
    # choose one export of a GAN phase exported at several marks (--gan-marks) on validation crops of a third source
    flock /tmp/heavy.lock python benchmarks/superres_photos.py select --init runs/bench-photos/psnr-10min
    # the same choice made by the run itself (`ganforge train --eval-every`): gan-best beside gan-end, then score both
    flock /tmp/heavy.lock python benchmarks/superres_photos.py gan --init runs/bench-photos/psnr-10min --steps 400 --eval-every 40

Scores (ganforge.metrics.superres, the papers' convention): Y-PSNR and Y-SSIM on BT.601 luma with a
`scale`-px border cut, and the HF ratio (Laplacian energy of the output over the original's: 1 = as much
fine detail as the original, bicubic far below), on the whole photos and on textured crops (each
photo's most detailed `--crop-side` windows, cut from the whole-image outputs so the model had context).

Selection (`select`): a GAN phase's sharpness cycles with D's falls and rises, so where it stops decides how sharp
its export is. `select` scores the start (`--init`) and every gan-*min export on validation crops of a third source
(the most detailed `--val-side` windows of `mate-backgrounds`' nature photographs that are not flat: neither trained on
nor in the test set) and keeps the export whose HF ratio is nearest the original's (|log HF ratio| least) among those within
`--max-psnr-cost` dB of the best Y-PSNR (the start's, unless an export beats it); the start itself when none is.
`ganforge train --eval-every N` makes the same choice during a super-resolution run (metrics.superres.SharpestWithinPSNR).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig  # noqa: E402
from ganforge.contract import Callback  # noqa: E402
from ganforge.games.srgan import SRGANOptions  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PLASMA = ("BytheWater", "ColdRipple", "ColorfulCups", "EveningGlow", "FallenLeaf", "Grey", "OneStandsOut", "Path")
PLASMA_PHOTOS = [f"/usr/share/wallpapers/{name}/contents/images/2560x1600.jpg" for name in PLASMA]
MATE_NATURE = "/usr/share/backgrounds/mate/nature"
SKIMAGE = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle", "hubble_deep_field", "retina")


def link_photos(photos: list[str], folder: Path) -> Path:
    """A folder of symbolic links to `photos`, each named after its own file or, for KDE's layout, its wallpaper folder."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for photo in map(Path, photos):
        if not photo.is_file():
            raise SystemExit(f"Photo {str(photo)!r} is missing; install its package (e.g. apt-get install plasma-workspace-wallpapers).")
        name = photo.parents[2].name + photo.suffix if photo.parent.name == "images" else photo.name
        (folder / name).symlink_to(photo.resolve())
    return folder


def skimage_photos(folder: Path) -> list[Path]:
    """The held-out photographs of scikit-image's wheel written as PNG files (once) into `folder`."""
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name in SKIMAGE:
        path = folder / f"{name}.png"
        if not path.exists():
            image = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
            Image.fromarray(image).save(path)
        files.append(path)
    return files


def run_config(args: argparse.Namespace, name: str, minutes: float, psnr_fraction: float, lr: float) -> TrainConfig:
    """A CPU-sized ESRGAN run on the linked photos: everything else at the family's defaults (bicubic skip, textured crops).

    G's learning rate is `--lr-g` when given (two time scales), else `lr` like D's."""
    options = dict(scale=args.scale, blocks=args.blocks, features=args.features, growth=args.growth, crop=args.crop,
                   d_width=args.d_width, psnr_fraction=psnr_fraction, holdout_every=0, **dict(args.option))
    return TrainConfig(model="srgan", data=str(args.out / "train-photos"), minutes=None if args.steps else minutes, steps=args.steps,
                       batch_size=args.batch_size, seed=args.seed,
                       out=str(args.out), name=name, lr_g=args.lr_g or lr, lr_d=lr, beta1=0.9, beta2=0.99, ema_decay=args.ema_decay, loss=args.loss,
                       log_every=25, sample_every=10 ** 9, checkpoint_every=10 ** 9, copy_check_n=0, options=options)


class ExportAt(Callback):
    """Exports the EMA generator the first round after each of `marks` minutes of training (folders `<prefix>-<m>min`)."""

    def __init__(self, marks: list[float], out: Path, prefix: str):
        self.marks, self.out, self.prefix, self.done = sorted(marks), out, prefix, {}

    def export(self, trainer, minutes: float) -> None:
        from ganforge.export import save_players

        info = {**trainer.game.export_info(), "family": "srgan", "data": trainer.cfg.data, "steps": trainer.step,
                "train_seconds": round(trainer.elapsed, 1)}
        folder = self.out / f"{self.prefix}-{minutes:g}min"
        shutil.rmtree(folder, ignore_errors=True)
        save_players(trainer.game.export_players(trainer.sample_generator), info, folder)
        self.done[f"{minutes:g}"] = {"steps": trainer.step, "seconds": round(trainer.elapsed, 1), "folder": str(folder)}
        print(f"exported {folder} after {trainer.step} rounds, {trainer.elapsed:.0f} s", flush=True)

    def on_round_end(self, trainer, step: int) -> None:
        while self.marks and trainer.elapsed >= self.marks[0] * 60 - 1e-6:
            self.export(trainer, self.marks.pop(0))

    def on_end(self, trainer) -> None:
        for minutes in self.marks:  # a mark at the very end of the budget
            self.export(trainer, minutes)
        self.marks = []


class StartFrom(Callback):
    """Loads an exported generator's weights into the live generator and its EMA before the first round."""

    def __init__(self, folder: Path):
        self.folder = folder

    def on_start(self, trainer) -> None:
        from ganforge.export import load_generator

        generator, _ = load_generator(self.folder)
        state = generator.state_dict()
        trainer.game.generator.load_state_dict(state)
        if trainer.ema is not None:
            trainer.ema.module.load_state_dict(state)


class DiscriminatorGap(Callback):
    """Keeps D's mean raw scores on real and fake crops as logged (is D above chance?)."""

    def __init__(self):
        self.rows: list[dict] = []

    def on_log(self, trainer, records: list[dict]) -> None:
        self.rows += [{k: r[k] for k in ("step", "loss_d", "d_real", "d_fake", "loss_l1", "loss_g_adv") if k in r}
                      for r in records if "d_real" in r]


def train_psnr(args: argparse.Namespace) -> dict:
    """The PSNR phase for `--minutes`, exported at each of `--marks` minutes."""
    from ganforge.train.api import train

    marks = [float(m) for m in args.marks.split(",")]
    exporter = ExportAt(marks, args.out, "psnr")
    cfg = run_config(args, "psnr-run", args.minutes, 1.0, args.lr)
    shutil.rmtree(args.out / "psnr-run", ignore_errors=True)
    started = time.perf_counter()
    train(cfg, callbacks=[exporter])
    return {"config": cfg.to_dict(), "wall_seconds": round(time.perf_counter() - started, 1), "exports": exporter.done}


def train_gan(args: argparse.Namespace) -> dict:
    """The GAN phase for `--minutes` (or `--steps` rounds) from the generator of `--init`, exported at `--gan-marks` minutes
    (default: the end of a minutes budget) as gan-<m>min. With `--eval-every N` the run itself chooses its export on the
    validation crops (`ganforge train --eval-every`, bound `--max-psnr-cost`), copied as gan-best beside its end, gan-end."""
    from ganforge.export import read_config
    from ganforge.report.curves import score_events
    from ganforge.runlog import read_metrics
    from ganforge.train.api import default_callbacks, train

    marks = [float(m) for m in args.gan_marks.split(",")] if args.gan_marks else ([] if args.steps else [args.minutes])
    exporter, gap = ExportAt(marks, args.out, "gan"), DiscriminatorGap()
    cfg = run_config(args, "gan-run", args.minutes, 0.0, args.lr)
    if args.eval_every:
        crops = validation_crops(validation_photos(args), args.out / f"val-crops-{args.val_side}", args.val_side, args.val_per_photo,
                                 args.val_min_texture)
        cfg = dataclasses.replace(cfg, eval_every=args.eval_every, eval_data=str(crops[0].parent), eval_psnr_cost=args.max_psnr_cost)
    run = args.out / "gan-run"
    shutil.rmtree(run, ignore_errors=True)
    started = time.perf_counter()
    own = [StartFrom(args.init), exporter, gap]
    # with evaluations, the callbacks a `ganforge train` run has (its evaluation among them) follow the benchmark's own
    train(cfg, callbacks=(lambda resolved: own + list(default_callbacks(resolved, progress=False))) if args.eval_every else own)
    out = {"config": cfg.to_dict(), "init": str(args.init), "wall_seconds": round(time.perf_counter() - started, 1),
           "exports": exporter.done, "discriminator": gap.rows}
    if args.eval_every:
        for source, name in (("export-best", "gan-best"), ("export", "gan-end")):
            shutil.rmtree(args.out / name, ignore_errors=True)
            shutil.copytree(run / source, args.out / name)
        rows = score_events(read_metrics(run / "metrics.jsonl")[1])
        out["evaluations"] = [{k: r[k] for k in ("step", "psnr_y", "ssim_y", "hf_ratio")} for r in rows]
        out["best_step"] = read_config(run / "export-best")["info"]["steps"]
        print(f"the run kept round {out['best_step']} of {[r['step'] for r in rows]}", flush=True)
    return out


def textured_windows(original: torch.Tensor, side: int, count: int) -> list[tuple[int, int]]:
    """(top, left) of the `count` non-overlapping `side`-px windows with the most Laplacian energy in the luma of a uint8 image."""
    import torch.nn.functional as F

    from ganforge.metrics.scores.psnr_ssim import rgb_to_y

    y = rgb_to_y(original[None].float())
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    energy = F.avg_pool2d(F.conv2d(y, k, padding=1).square(), side, stride=side)[0, 0]
    best = energy.flatten().argsort(descending=True)[:count].tolist()
    return [(i // energy.shape[1] * side, i % energy.shape[1] * side) for i in best]


def score(args: argparse.Namespace) -> dict:
    """Every export in --out (psnr-*min, gan-*min) and bicubic on the skimage photos: whole images and textured crops."""
    from ganforge.export import load_generator
    from ganforge.metrics.superres import evaluate_superres, format_superres, image_scores

    files = skimage_photos(args.out / "skimage-photos")
    exports = (sorted(args.out.glob("psnr-*min"), key=lambda p: float(p.name[5:-3]))
               + sorted(args.out.glob("gan-*min"), key=lambda p: float(p.name[4:-3]))
               + [args.out / name for name in ("gan-best", "gan-end") if (args.out / name).is_dir()])
    results, kept = {}, {}
    for folder in exports:
        generator, info = load_generator(folder)
        images = {}

        def keep(name, original, lr, bicubic, output, images=images):
            images[name] = {"original": original, "bicubic": bicubic, "model": output}

        started = time.perf_counter()
        whole = evaluate_superres(generator, info, files=files, keep=keep)
        rows = {"bicubic": [], "model": []}
        for im in images.values():
            for top, left in textured_windows(im["original"], args.crop_side, args.crops_per_photo):
                window = (slice(None), slice(top, top + args.crop_side), slice(left, left + args.crop_side))
                for method in rows:
                    rows[method].append(image_scores(im[method][window].contiguous(), im["original"][window].contiguous(), args.scale))
        crops = {m: {k: sum(r[k] for r in v) / len(v) for k in ("psnr_y", "ssim_y", "hf_ratio")} for m, v in rows.items()}
        results[folder.name] = {"steps": info.get("steps"), "train_seconds": info.get("train_seconds"), "whole": whole,
                                "crops": {**crops, "n": len(rows["model"]), "side": args.crop_side},
                                "eval_seconds": round(time.perf_counter() - started, 1)}
        kept[folder.name] = images
        print(f"--- {folder.name} ({info.get('steps')} rounds)\n{format_superres(whole)}\n"
              f"textured crops ({len(rows['model'])} x {args.crop_side} px): bicubic {crops['bicubic']['psnr_y']:.2f} dB "
              f"HF {crops['bicubic']['hf_ratio']:.3f} | model {crops['model']['psnr_y']:.2f} dB HF {crops['model']['hf_ratio']:.3f}",
              flush=True)
    if args.figure_psnr in kept and args.figure_gan in kept:
        results["figure"] = figure(kept[args.figure_psnr], kept[args.figure_gan], args.figure_side, args.figure_rows, args.figure)
    return results


def validation_crops(photos: list[Path], folder: Path, side: int, per_photo: int, min_texture: float) -> list[Path]:
    """Of each photo's `per_photo` most detailed `side`-px windows, those with texture >= `min_texture` (mean absolute
    luma gradient, as the training crops are chosen), written once as PNG files into `folder`."""
    from PIL import Image

    from ganforge.data.superres import load_images
    from ganforge.data.texture import image_texture

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for photo in photos:
        image = load_images([photo], 3).image(0)
        for k, (top, left) in enumerate(textured_windows(image, side, per_photo)):
            window = image[:, top:top + side, left:left + side]
            if float(image_texture(window.permute(1, 2, 0)[None])[0]) < min_texture:
                continue
            path = folder / f"{photo.stem}-{k}.png"
            if not path.exists():
                Image.fromarray(window.permute(1, 2, 0).numpy()).save(path)
            files.append(path)
    return files


def choose_export(rows: dict[str, dict], start: str, max_psnr_cost: float) -> str:
    """The export (a key of `rows`: {"psnr_y", "hf_ratio"} each) that `SharpestWithinPSNR` picks from `start`
    and then the others in the order of `rows` (the pick of `ganforge train --eval-every` on a super-resolution run)."""
    from ganforge.metrics.superres import SharpestWithinPSNR

    rule, chosen = SharpestWithinPSNR(max_psnr_cost), start
    for name in [start] + [name for name in rows if name != start]:
        if rule.consider(rows[name]["psnr_y"], rows[name]["hf_ratio"]):
            chosen = name
    return chosen


def validation_photos(args: argparse.Namespace) -> list[Path]:
    """The JPEG photographs of `--val-photos`, or exit naming the folder."""
    photos = sorted(Path(args.val_photos).glob("*.jpg"))
    if not photos:
        raise SystemExit(f"Validation folder {args.val_photos!r} has no JPEG photos; install mate-backgrounds or pass --val-photos.")
    return photos


def select(args: argparse.Namespace) -> dict:
    """The start (--init) and every gan-*min export in --out scored on validation crops; the export chosen by choose_export."""
    from ganforge.export import load_generator
    from ganforge.metrics.superres import evaluate_superres

    files = validation_crops(validation_photos(args), args.out / f"val-crops-{args.val_side}", args.val_side, args.val_per_photo, args.val_min_texture)
    exports = [args.init] + sorted(args.out.glob("gan-*min"), key=lambda p: float(p.name[4:-3]))
    rows = {}
    for folder in exports:
        generator, info = load_generator(folder)
        scores = evaluate_superres(generator, info, files=files)
        rows[folder.name] = {"steps": info.get("steps"), "bicubic": scores["bicubic"], **scores["model"]}
        print(f"{folder.name:>12} ({info.get('steps')} rounds): validation {scores['model']['psnr_y']:.2f} dB, "
              f"SSIM {scores['model']['ssim_y']:.4f}, HF {scores['model']['hf_ratio']:.3f}", flush=True)
    chosen = choose_export(rows, args.init.name, args.max_psnr_cost)
    print(f"chosen: {chosen} (|log HF| least within {args.max_psnr_cost} dB of the best Y-PSNR)", flush=True)
    return {"validation": {"photos": str(args.val_photos), "crops": [f.name for f in files], "side": args.val_side,
                           "min_texture": args.val_min_texture},
            "criterion": f"|log hf_ratio| least within {args.max_psnr_cost} dB of the best Y-PSNR (the start's, unless an export beats it)",
            "start": args.init.name, "exports": rows, "chosen": chosen}


def figure(psnr: dict, gan: dict, side: int, rows: int, path: Path) -> dict:
    """bicubic | PSNR model | GAN model | original for the `rows` windows (one per photo) where the GAN and PSNR outputs differ most."""
    from PIL import Image, ImageDraw

    from ganforge.metrics.scores.psnr_ssim import rgb_to_y

    candidates = []
    for name in psnr:
        a, b = rgb_to_y(psnr[name]["model"][None].float())[0, 0], rgb_to_y(gan[name]["model"][None].float())[0, 0]
        diff = torch.nn.functional.avg_pool2d((a - b).abs()[None, None], side, stride=side // 2)[0, 0]
        i = int(diff.flatten().argmax())
        candidates.append((float(diff.flatten()[i]), name, i // diff.shape[1] * (side // 2), i % diff.shape[1] * (side // 2)))
    chosen = sorted(candidates, reverse=True)[:rows]
    line, gap = 14, 3  # the column titles once at the top; each row's photo on its own line above its tiles
    titles = ("bicubic", "PSNR model", "GAN model", "original")
    sheet = Image.new("RGB", (4 * side + 3 * gap, line + len(chosen) * (line + side + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, title in enumerate(titles):
        draw.text((c * (side + gap) + 2, 1), title, fill="black")
    for r, (_, name, top, left) in enumerate(chosen):
        y0 = line + r * (line + side + gap)
        draw.text((2, y0 + 1), f"{name}, window at ({top}, {left})", fill="black")
        tiles = (psnr[name]["bicubic"], psnr[name]["model"], gan[name]["model"], psnr[name]["original"])
        for c, image in enumerate(tiles):
            part = image[:, top:top + side, left:left + side].permute(1, 2, 0).numpy()
            sheet.paste(Image.fromarray(part), (c * (side + gap), y0 + line))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)
    return {"path": str(path), "bytes": path.stat().st_size, "windows": [{"photo": n, "top": top, "left": left} for _, n, top, left in chosen]}


def json_or_text(value: str):
    """An --option value: a JSON number, boolean, null, list or object as such, anything else as text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("psnr", "gan", "score", "select", "all"))
    parser.add_argument("--photos", nargs="+", default=PLASMA_PHOTOS, help="training photographs (default: plasma-workspace-wallpapers' eight)")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-photos"))
    parser.add_argument("--minutes", type=float, default=None, help="training budget (psnr: 20, gan: 10)")
    parser.add_argument("--steps", type=int, default=None, help="psnr, gan: training budget in rounds instead of --minutes")
    parser.add_argument("--eval-every", type=int, default=0,
                        help="gan: evaluate on the validation crops every N rounds and keep the export the run chooses (gan-best)")
    parser.add_argument("--marks", default="5,10,20", help="psnr: minutes at which the EMA generator is exported")
    parser.add_argument("--gan-marks", default="", help="gan: minutes at which the EMA generator is exported (default: the end)")
    parser.add_argument("--init", type=Path, default=None, help="gan: the PSNR export to start from (default: --out/psnr-10min)")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--features", type=int, default=32)
    parser.add_argument("--growth", type=int, default=16)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--d-width", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--lr-g", type=float, default=None, help="G's learning rate (default: --lr; e.g. half of it for two time scales)")
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--loss", default=None, help="D's loss (default: the family's, ragan), e.g. relativistic_pairing")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--option", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="another srgan option, e.g. --option gan_weight 0.1 or --option d_betas '[0.9, 0.9]' (JSON values as such)")
    parser.add_argument("--crop-side", type=int, default=128, help="score: side of the textured crops")
    parser.add_argument("--crops-per-photo", type=int, default=2)
    parser.add_argument("--val-photos", default=MATE_NATURE, help="select: folder of validation photographs (JPEG)")
    parser.add_argument("--val-side", type=int, default=256, help="select: side of the validation crops")
    parser.add_argument("--val-per-photo", type=int, default=4, help="select: most detailed windows tried per photo")
    parser.add_argument("--val-min-texture", type=float, default=SRGANOptions.min_texture,
                        help="select: windows flatter than this (mean absolute luma gradient) are left out, as in training")
    parser.add_argument("--max-psnr-cost", type=float, default=1.0,
                        help="select, gan --eval-every: the most Y-PSNR (dB) an export may lose against the best")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "img" / "superres-photos-crops.png")
    parser.add_argument("--figure-psnr", default="psnr-10min")
    parser.add_argument("--figure-gan", default="gan-10min")
    parser.add_argument("--figure-side", type=int, default=96)
    parser.add_argument("--figure-rows", type=int, default=4)
    args = parser.parse_args()
    args.option = [(k, json_or_text(v)) for k, v in args.option]
    args.out.mkdir(parents=True, exist_ok=True)
    machine = describe()
    print(f"machine: {machine}", flush=True)
    link_photos(args.photos, args.out / "train-photos")
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    results["machine"] = machine
    if args.what in ("psnr", "all"):
        args.minutes = args.minutes or 20.0
        results["psnr"] = train_psnr(args)
    if args.what in ("gan", "all"):
        args.minutes = 10.0 if args.what == "all" or args.minutes is None else args.minutes
        args.init = args.init or args.out / "psnr-10min"
        results["gan"] = train_gan(args)
    if args.what in ("score", "all"):
        results["scores"] = score(args)
    if args.what == "select":
        if args.init is None:
            raise SystemExit("select needs --init, the PSNR export the GAN phase started from.")
        results["select"] = select(args)
    results_path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {results_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
