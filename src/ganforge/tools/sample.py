"""`ganforge sample`: images from an exported model or a run, as a PNG grid and a uint8 .npz."""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ganforge.data.dataset import to_uint8
from ganforge.deploy.backend import BACKENDS, choose_backend
from ganforge.deploy.kinds import export_kind
from ganforge.errors import GanforgeError
from ganforge.export import load_generator, read_config, resolve_model_dir
from ganforge.sampling import check_labels, iter_samples, parse_device
from ganforge.tools import checks


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge sample`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported model folder or run folder")
    parser.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--label", type=int, help="class to generate (conditional models)")
    parser.add_argument("--truncation", type=float, help="truncation ψ (StyleGAN models)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", required=True, metavar="FILE", help="writes FILE.png (grid) and FILE.npz")
    parser.add_argument("--force", action="store_true", help="replace output files that already exist")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="auto (default: onnxruntime when the export has ONNX graphs and the onnx extra is installed, on the CPU; "
                             "else PyTorch fp32), torch, bf16 (PyTorch bf16 autocast) or onnx")
    parser.add_argument("--onnx", action="store_const", const="onnx", dest="backend", help="same as --backend onnx")


def output_paths(out: str) -> tuple[Path, Path]:
    """(grid PNG, npz) paths for an --out value given with or without a suffix."""
    base = Path(out)
    if base.suffix.lower() in (".png", ".npz"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".png"), base.with_name(base.name + ".npz")


def generate_onnx(folder: Path, n: int, seed: int, label: int | None, truncation: float | None,
                  batch_size: int) -> tuple[np.ndarray, np.ndarray | None]:
    """As `generate`, through onnxruntime: the same noise (torch's RNG, batch by batch), so the same images to 1e-4."""
    from ganforge.deploy.onnx_run import OnnxGenerator

    model = OnnxGenerator(folder)
    classes = int(model.manifest.get("num_classes") or 0) if "labels" in model.inputs() else 0
    if label is not None and classes == 0:
        raise GanforgeError("A label was given but this model is unconditional; expected no --label.")
    if label is not None and not 0 <= label < classes:
        raise GanforgeError(f"Label {label} is outside this model's classes; expected 0 to {classes - 1}.")
    labels = None if classes == 0 else (torch.full((n,), label, dtype=torch.long) if label is not None else torch.arange(n) % classes)
    rng = torch.Generator().manual_seed(seed)
    parts = []
    for start in range(0, n, batch_size):
        count = min(batch_size, n - start)
        z = torch.randn(count, model.z_dim(), generator=rng).numpy()
        parts.append(model.generate(z, None if labels is None else labels[start:start + count].numpy(), truncation))
    return np.concatenate(parts), (labels.numpy() if labels is not None else None)


def generate(generator: torch.nn.Module, n: int, seed: int, label: int | None, truncation: float | None,
             batch_size: int, device: str, bf16: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """(uint8 images (N, C, H, W), labels (N,) or None) filled batch by batch (in bf16 autocast with `bf16`)."""
    generator = generator.to(device)
    kwargs = {} if truncation is None else {"truncation": truncation}
    if truncation is not None and "truncation" not in generator.forward.__code__.co_varnames:
        raise GanforgeError(f"Truncation {truncation} was asked of a {type(generator).__name__}; expected a StyleGAN model.")
    classes = int(getattr(generator, "num_classes", 0))
    labels = None
    if label is not None:
        labels = torch.full((n,), label, dtype=torch.long)
    elif classes > 0:
        labels = torch.arange(n) % classes
    out = None
    start = 0
    with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
        batches = list(iter_samples(generator, n, seed, batch_size, labels, torch.device(device), **kwargs))
    for batch in batches:
        images = to_uint8(batch).cpu().numpy()
        if out is None:
            out = np.empty((n, *images.shape[1:]), dtype=np.uint8)
        out[start:start + len(images)] = images
        start += len(images)
    return out, (labels.numpy() if labels is not None else None)


def run(args: argparse.Namespace) -> int:
    """Write the grid and the .npz."""
    from ganforge.report import save_grid, save_labeled_rows

    checks.positive(args.n, "--n")
    checks.positive(args.batch_size, "--batch-size")
    checks.seed(args.seed)
    checks.truncation(args.truncation)
    device = parse_device(args.device)
    folder = resolve_model_dir(args.model)
    info = read_config(folder).get("info", {})
    kind = export_kind(info)
    if kind not in ("noise", "stylegan", "vae"):
        raise GanforgeError(f"Model {args.model!r} is a {kind} model; expected a generator of images from noise "
                            "(use `ganforge translate` or `ganforge upscale` for image-to-image models).")
    if args.truncation is not None and kind != "stylegan":
        raise GanforgeError(f"Truncation {args.truncation} was asked of a {kind} model; expected a StyleGAN model.")
    backend = choose_backend(args.backend, kind, folder, torch.device(device))
    png, npz = checks.output_files(output_paths(args.out), args.force)
    if backend == "onnx":
        images, labels = generate_onnx(folder, args.n, args.seed, args.label, args.truncation, args.batch_size)
        classes = int(info.get("num_classes") or 0) if labels is not None else 0
    else:
        generator, info = load_generator(folder, device)
        if args.label is not None:
            check_labels(generator, torch.tensor([args.label]))
        images, labels = generate(generator, args.n, args.seed, args.label, args.truncation, args.batch_size, device,
                                  bf16=backend == "bf16")
        classes = int(getattr(generator, "num_classes", 0))
    shown = torch.from_numpy(images[:100])
    if args.label is None and classes > 0 and args.n >= classes:
        per_class = min(10, args.n // classes)
        index = torch.arange(classes).repeat_interleave(per_class) + classes * torch.arange(per_class).repeat(classes)
        names = info.get("class_names") or [str(c) for c in range(classes)]
        save_labeled_rows(torch.from_numpy(images[index.numpy()]), png, list(names))
    else:
        save_grid(shown, png)
    arrays = {"images": images} if labels is None else {"images": images, "labels": labels}
    np.savez_compressed(npz, **arrays)
    print(f"wrote {png} and {npz} ({args.n} images; backend {backend})")
    return 0
