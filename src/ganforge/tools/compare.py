"""`ganforge compare`: models side by side: samples at the same seed, VAE reconstructions, and a score table.

Writes samples.png (one panel per model, same noise seed; a second row of VAE reconstructions of
the same real test images), compare.md and compare.png (the table), and compare.json (every number).
"""
from __future__ import annotations

import argparse
import math
import platform
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from ganforge import arguments
from ganforge.atomic import write_json_atomic
from ganforge.errors import GanforgeError
from ganforge.export import load_players, resolve_model_dir
from ganforge.kinds import kind_of
from ganforge.runlog import last_time
from ganforge.tools.outputs import MAX_PICTURE_IMAGES, add_force, at_most, claim_outputs, output_folder

#: table columns: (key, header, format); None values print as "—"
COLUMNS = (
    ("name", "model", "{}"), ("family", "family", "{}"), ("data", "data", "{}"), ("steps", "steps", "{}"),
    ("train_seconds", "train time (s)", "{:.1f}"), ("fd", "FD ↓", "{:.2f}"), ("kid_milli", "KID×10³ ↓", "{}"),
    ("precision", "precision ↑", "{:.3f}"), ("recall", "recall ↑", "{:.3f}"),
    ("sharpness", "sharpness (data = 1)", "{:.2f}"), ("images_per_second", "sampling (img/s) ↑", "{:,.0f}"),
    ("recon_mse", "recon. MSE ↓", "{:.4f}"),
)


@dataclass(frozen=True)
class CompareSettings:
    """How models are compared; each default is the command line's."""

    n: int = 10000  #: samples per model for the scores
    metrics: str = "fd,kid,pr"  #: comma-separated subset of fd,kid,pr
    no_metrics: bool = False  #: skip the scores (samples, speed and times only)
    extractor: str = "auto"  #: feature extractor: auto, digits, fashion, inception
    data: Optional[str] = None  #: score every model against this data instead of each model's own
    seed: int = 0  #: noise seed shared by every model
    grid: int = 64  #: samples per model in samples.png
    recon_n: int = 1000  #: test images (and samples) for the sharpness ratio and the VAE reconstruction error
    speed_n: int = 2000  #: images generated to time sampling
    batch_size: int = 500  #: images per generator call
    device: str = "cpu"  #: where the models run

    def validate(self) -> None:
        """Refuse counts below what each measurement needs."""
        for name in ("n", "grid", "recon_n", "speed_n", "batch_size"):
            if getattr(self, name) < (2 if name == "n" else 1):
                raise GanforgeError(f"Option --{name.replace('_', '-')} {getattr(self, name)} is invalid; expected a positive count.")
        from ganforge.metrics.evaluate import MAX_SAMPLES

        at_most(self.grid, MAX_PICTURE_IMAGES // 8, f"Option --grid {self.grid} (images per model)")
        for name in ("n", "recon_n", "speed_n"):
            at_most(getattr(self, name), MAX_SAMPLES, f"Option --{name.replace('_', '-')} {getattr(self, name)} (samples)")


_DEFAULTS = CompareSettings()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge compare`."""
    parser.add_argument("models", metavar="RUN_OR_MODEL", nargs="+", help="run folders or exported model folders")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="DIR", help="folder for samples.png, compare.md/.png/.json")
    d = _DEFAULTS
    parser.add_argument("--n", type=arguments.positive_int, default=d.n, help=f"samples per model for the scores (default {d.n})")
    parser.add_argument("--metrics", default=d.metrics, help=f"comma-separated subset of fd,kid,pr (default {d.metrics})")
    parser.add_argument("--no-metrics", action="store_true", help="skip the scores (samples, speed and times only)")
    parser.add_argument("--extractor", default=d.extractor, help="feature extractor: auto, digits, fashion, inception")
    parser.add_argument("--data", help="score every model against this data instead of each model's own")
    parser.add_argument("--seed", type=arguments.seed, default=d.seed, help=f"noise seed shared by every model (default {d.seed})")
    parser.add_argument("--grid", type=arguments.positive_int, default=d.grid, help=f"samples per model in samples.png (default {d.grid})")
    parser.add_argument("--recon-n", type=arguments.positive_int, default=d.recon_n,
                        help="test images (and samples) for the sharpness ratio and the VAE reconstruction error")
    parser.add_argument("--speed-n", type=arguments.positive_int, default=d.speed_n, help=f"images generated to time sampling (default {d.speed_n})")
    parser.add_argument("--batch-size", type=arguments.positive_int, default=d.batch_size)
    parser.add_argument("--device", type=arguments.device, default=d.device)
    add_force(parser)


@dataclass
class Entry:
    """One compared model: its name, players, info and measured numbers."""

    name: str
    path: str
    players: dict
    info: dict
    row: dict = field(default_factory=dict)

    @property
    def generator(self) -> nn.Module:
        """The noise generator (a VAE's decoder)."""
        return self.players["generator"]

    @property
    def encoder(self) -> Optional[nn.Module]:
        """The encoder of a VAE, else None."""
        return self.players.get("encoder")


def training_seconds(path: Path, info: dict) -> Optional[float]:
    """Training wall-clock seconds: the export's train_seconds, else the last time in the run's metrics.jsonl."""
    if isinstance(info.get("train_seconds"), (int, float)):
        return float(info["train_seconds"])
    return last_time(path / "metrics.jsonl")


def load_entries(paths: list[str], device: str) -> list[Entry]:
    """Load every model (run folders resolve to their export/), named by folder, duplicates numbered."""
    entries, seen = [], {}
    for text in paths:
        path = Path(text)
        folder = resolve_model_dir(path)
        players, info = load_players(folder, device)
        if not kind_of(info).noise_driven:
            raise GanforgeError(f"Model {text!r} is not a noise generator; expected GAN or VAE models to compare.")
        name = (path if folder == path else folder.parent).resolve().name or text
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} ({seen[name]})"
        entry = Entry(name, text, players, info)
        entry.row = {"name": name, "path": text, "family": info.get("family") or "?", "data": info.get("data"),
                     "steps": info.get("steps"), "train_seconds": training_seconds(path, info),
                     "image_size": info.get("image_size"), "channels": info.get("channels")}
        entries.append(entry)
    return entries


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def sampling_speed(generator: nn.Module, n: int, batch_size: int) -> float:
    """Images per second of `generator` making `n` images in batches, timed after one warm-up batch."""
    from ganforge.sampling import iter_samples

    device = next(generator.parameters()).device
    for _ in iter_samples(generator, min(batch_size, n), seed=1, batch_size=batch_size):
        pass
    _sync(device)
    start = time.perf_counter()
    for _ in iter_samples(generator, n, seed=2, batch_size=batch_size):
        pass
    _sync(device)
    return n / max(time.perf_counter() - start, 1e-9)


def samples_at_seed(generator: nn.Module, n: int, seed: int) -> Tensor:
    """`n` images in [-1, 1] (CPU) from noise drawn with `seed`."""
    from ganforge.sampling import iter_samples

    return torch.cat([b.cpu() for b in iter_samples(generator, n, seed=seed, batch_size=500)])


def test_images(data: str, image_size: int, channels: int, n: int) -> Tensor:
    """The first `n` held-out images of `data` at the model's size and channels, float in [-1, 1]."""
    from ganforge.data import load_dataset, to_float

    try:
        dataset = load_dataset(data, image_size=image_size, channels=channels, split="test")
    except GanforgeError:
        dataset = load_dataset(data, image_size=image_size, channels=channels, split="train")
    return to_float(dataset.images[:n])


def edge_energy(images: Tensor) -> float:
    """Mean absolute 3x3 Laplacian of images in [-1, 1], on the [0, 1] scale: low for blurry images."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).view(1, 1, 3, 3)
    x = (images.float() + 1.0) * 0.5
    return float(torch.nn.functional.conv2d(x.flatten(0, 1).unsqueeze(1), kernel).abs().mean())


def score(generator: nn.Module, info: dict, n: int, metrics: str, seed: int, extractor: str,
          data: Optional[str], batch_size: int) -> dict[str, Any]:
    """Scores of the generator's samples against its data through ganforge.metrics."""
    try:
        from ganforge.metrics.evaluate import evaluate
    except ImportError:
        raise GanforgeError("The metrics package is not available in this installation; expected --no-metrics.") from None
    return evaluate(generator, info, n=n, metrics=metrics, seed=seed, extractor=extractor, data=data,
                    batch_size=batch_size)


def cell(value: Any, fmt: str) -> str:
    """A table cell: formatted number or text, "—" for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def table(rows: list[dict]) -> tuple[list[str], list[list[str]]]:
    """(headers, cells) of the comparison table."""
    return [h for _, h, _ in COLUMNS], [[cell(r.get(k), f) for k, _, f in COLUMNS] for r in rows]


def markdown(rows: list[dict], notes: list[str]) -> str:
    """compare.md: the table and what it was measured on."""
    headers, cells = table(rows)
    lines = ["# Model comparison", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    lines += [""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _save(fig, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", bbox_inches="tight")
    tmp.replace(path)


def table_png(rows: list[dict], path: Path) -> None:
    """compare.png: the table drawn as a picture."""
    headers, cells = table(rows)
    fig = _figure(max(8.0, 1.25 * len(headers)), 0.5 + 0.4 * (len(cells) + 1))
    ax = fig.add_subplot(1, 1, 1)
    ax.axis("off")
    drawn = ax.table(cellText=cells, colLabels=headers, loc="center", cellLoc="center")
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(9)
    drawn.auto_set_column_width(list(range(len(headers))))
    drawn.scale(1.0, 1.4)
    for (r, _), c in drawn.get_celld().items():
        if r == 0:
            c.set_text_props(weight="bold")
    _save(fig, path)


def samples_png(panels: list[list[tuple[str, Tensor]]], path: Path) -> None:
    """samples.png: rows of titled image grids (first row: samples; second: test images and reconstructions)."""
    from ganforge.report.grid import make_grid

    cols = max(len(row) for row in panels)
    fig = _figure(3.2 * cols, 3.5 * len(panels))
    for r, row in enumerate(panels):
        for c, (title, images) in enumerate(row):
            ax = fig.add_subplot(len(panels), cols, r * cols + c + 1)
            picture = make_grid(images, nrow=max(1, math.ceil(math.sqrt(len(images)))))
            ax.imshow(picture[:, :, 0] if picture.shape[2] == 1 else picture, cmap="gray", vmin=0, vmax=255,
                      interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.axis("off")
    _save(fig, path)


def _notes(args: CompareSettings, entries: list[Entry], device: torch.device) -> list[str]:
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    notes = [f"Samples in samples.png use noise seed {args.seed} for every model; models with the same latent "
             "size get the same noise vectors.",
             f"Sampling speed: {args.speed_n} images in batches of {args.batch_size} on {device} ({where}, "
             f"{torch.get_num_threads()} threads), torch {torch.__version__}."]
    if not args.no_metrics:
        notes.append(f"Scores: {args.n} samples per model, seed {args.seed}, metrics {args.metrics}, "
                     f"extractor {entries[0].row.get('extractor', args.extractor)}; KID shown ×10³ as mean ± std.")
    notes.append(f"sharpness: mean absolute Laplacian of {args.recon_n} samples divided by that of as many "
                 "test images of the model's data (1 = as sharp as the data, below 1 = blurrier).")
    if any(e.encoder is not None for e in entries):
        notes.append(f"recon. MSE: mean squared error on the [-1, 1] scale of the VAE decoding the mean code of "
                     f"the first {args.recon_n} test images.")
    datas = {str(args.data or e.row.get("data")) for e in entries}
    if len(datas) > 1:
        notes.append(f"Warning: the models were trained on different data ({', '.join(sorted(datas))}); "
                     "their scores are not directly comparable.")
    return notes


def output_paths(out: Path) -> list[Path]:
    """The four files a comparison writes into `out`."""
    return [out / name for name in ("samples.png", "compare.png", "compare.md", "compare.json")]


def compare(models: list[str], out: Union[str, Path], settings: CompareSettings = _DEFAULTS,
            force: bool = False) -> list[dict]:
    """Measure every model (run or export folders) and write the four outputs to `out`; return the table rows."""
    from ganforge.latent.reconstruction import reconstruct

    args = settings
    args.validate()
    claim_outputs(output_paths(output_folder(Path(out))), models, force=force)
    out = Path(out)
    entries = load_entries([str(m) for m in models], args.device)
    device = next(entries[0].generator.parameters()).device
    sample_row, recon_row, shown_reals, reals_of = [], [], set(), {}
    for e in entries:
        e.row["images_per_second"] = sampling_speed(e.generator, args.speed_n, args.batch_size)
        sample_row.append((f"{e.name}\n({e.row['family']})", samples_at_seed(e.generator, args.grid, args.seed)))
        if not args.no_metrics:
            scores = score(e.generator, e.info, args.n, args.metrics, args.seed, args.extractor, args.data,
                           args.batch_size)
            e.row.update({k: v for k, v in scores.items() if k not in ("n",)})
            if "kid" in scores:
                e.row["kid_milli"] = f"{1e3 * scores['kid']:.2f} ± {1e3 * scores.get('kid_std', 0.0):.2f}"
        data = args.data or e.row.get("data")
        size, channels = int(e.info.get("image_size", 32)), int(e.info.get("channels", 1))
        key = (str(data), size, channels)
        if data is not None and key not in reals_of:
            reals_of[key] = test_images(str(data), size, channels, max(args.recon_n, args.grid))
        if data is not None:
            reference = edge_energy(reals_of[key][:args.recon_n])
            e.row["sharpness"] = edge_energy(samples_at_seed(e.generator, args.recon_n, args.seed)) / max(reference, 1e-12)
        if e.encoder is not None:
            if data is None:
                raise GanforgeError(f"Model {e.path!r} does not record its data; expected --data for its reconstructions.")
            reals = reals_of[key]
            outputs, _ = reconstruct(e.encoder, e.generator, reals[:args.recon_n], args.batch_size)
            e.row["recon_mse"] = float((outputs - reals[:args.recon_n]).square().mean())
            if key not in shown_reals:
                shown_reals.add(key)
                recon_row.append((f"test images\n({data})", reals[:args.grid]))
            recon_row.append((f"{e.name}\nreconstructions", outputs[:args.grid]))
    rows = [e.row for e in entries]
    notes = _notes(args, entries, device)
    samples_png([sample_row] + ([recon_row] if recon_row else []), out / "samples.png")
    table_png(rows, out / "compare.png")
    (out / "compare.md").write_text(markdown(rows, notes) + "\n![samples](samples.png)\n")
    write_json_atomic(out / "compare.json", {"settings": asdict(settings), "notes": notes, "models": rows})
    return rows


def run(args: argparse.Namespace) -> int:
    """Compare the models and say where the outputs are."""
    settings = CompareSettings(**{f.name: getattr(args, f.name) for f in fields(CompareSettings)})
    rows = compare(args.models, args.out, settings, getattr(args, "force", False))
    print(f"compared {len(rows)} models; wrote samples.png, compare.md, compare.png and compare.json to {args.out}")
    return 0
