"""`ganforge sample`: images from an exported model or a run, as a PNG grid and a uint8 .npz."""
from __future__ import annotations

import argparse
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ganforge import arguments
from ganforge.atomic import nearest_existing
from ganforge.data.dataset import to_uint8
from ganforge.deploy.backend import BACKENDS, choose_backend
from ganforge.errors import GanforgeError
from ganforge.export import load_generator, read_config, resolve_model_dir
from ganforge.kinds import NOISE_DRIVEN, kind_of, require
from ganforge.sampling import check_labels, iter_samples, parse_device
from ganforge.tools.outputs import add_force, claim_outputs, picture_and_arrays, removed_on_failure


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge sample`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported model folder or run folder")
    parser.add_argument("--n", type=arguments.positive_int, default=64, help="number of images (default 64)")
    parser.add_argument("--seed", type=arguments.seed, default=0)
    parser.add_argument("--label", type=arguments.integer, help="class to generate (conditional models)")
    parser.add_argument("--truncation", type=arguments.finite_float, help="truncation ψ (StyleGAN models; 1 keeps every style, 0 gives the average image)")
    parser.add_argument("--batch-size", type=arguments.positive_int, default=500)
    parser.add_argument("--device", type=arguments.device, default="cpu")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="FILE", help="writes FILE.png (grid) and FILE.npz")
    add_force(parser)
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="auto (default: onnxruntime when the export has ONNX graphs and the onnx extra is installed, on the CPU; "
                             "else PyTorch fp32), torch, bf16 (PyTorch bf16 autocast) or onnx")
    parser.add_argument("--onnx", action="store_const", const="onnx", dest="backend", help="same as --backend onnx")


SHOWN = 100  #: images in the grid (a labelled grid shows up to 10 per class)


def stream_npz(path: Path, batches: Iterator[np.ndarray], n: int, labels: np.ndarray | None, keep: int) -> np.ndarray:
    """Write uint8 image batches (n in all) into `path` as an .npz (`images`, and `labels` if given) batch by batch,
    through a hidden temporary file renamed at the end; return the first `keep` images (for the grid)."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    kept: list[np.ndarray] = []
    held = 0
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            with archive.open("images.npy", "w", force_zip64=True) as f:
                header_written = False
                for batch in batches:
                    if not header_written:
                        np.lib.format.write_array_header_2_0(f, {"descr": "|u1", "fortran_order": False,
                                                                 "shape": (n, *batch.shape[1:])})
                        header_written = True
                    f.write(np.ascontiguousarray(batch).tobytes())
                    if held < keep:
                        kept.append(batch[:keep - held].copy())
                        held += len(kept[-1])
            if labels is not None:
                with archive.open("labels.npy", "w") as f:
                    np.lib.format.write_array(f, labels, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return np.concatenate(kept)


def check_room(npz: Path, n: int, image_bytes: int) -> None:
    """Refuse a sample count whose images (uncompressed) would not fit the free space where `npz` goes."""
    needed = n * image_bytes
    free = shutil.disk_usage(nearest_existing(npz.parent)).free
    if needed > free:
        raise GanforgeError(f"Sample count --n {n} needs up to {needed / 2**30:.3g} GiB in {str(npz)!r}, more than the "
                            f"{free / 2**30:.3g} GiB free there; expected a smaller --n or more free space.")


def onnx_batches(folder: Path, n: int, seed: int, label: int | None, truncation: float | None,
                 batch_size: int) -> tuple[Iterator[np.ndarray], torch.Tensor | None]:
    """(uint8 image batches, labels) through onnxruntime: the noise `iter_samples` draws (torch's RNG, batch by batch),
    so the same images as PyTorch fp32 to 1e-4."""
    from ganforge.deploy.onnx_run import OnnxGenerator

    model = OnnxGenerator(folder)
    classes = int(model.manifest.get("num_classes") or 0) if "labels" in model.inputs() else 0
    if label is not None and classes == 0:
        raise GanforgeError("A label was given but this model is unconditional; expected no --label.")
    if label is not None and not 0 <= label < classes:
        raise GanforgeError(f"Label {label} is outside this model's classes; expected 0 to {classes - 1}.")
    labels = None if classes == 0 else (torch.full((n,), label, dtype=torch.long) if label is not None else torch.arange(n) % classes)

    def batches() -> Iterator[np.ndarray]:
        rng = torch.Generator().manual_seed(seed)
        for start in range(0, n, batch_size):
            count = min(batch_size, n - start)
            z = torch.randn(count, model.z_dim(), generator=rng).numpy()
            yield model.generate(z, None if labels is None else labels[start:start + count].numpy(), truncation)

    return batches(), labels


def run(args: argparse.Namespace) -> int:
    """Write the grid and the .npz, streaming the images to disk batch by batch."""
    from ganforge.report import save_grid, save_labeled_rows

    device = parse_device(args.device)
    folder = resolve_model_dir(args.model)
    info = read_config(folder).get("info", {})
    kind = kind_of(info)
    require(kind, args.model, "`ganforge sample`", "a noise generator (use `ganforge translate` or `upscale` for image-to-image models)",
            kinds=NOISE_DRIVEN)
    if args.truncation is not None:
        require(kind, args.model, "truncation", "a StyleGAN model", capability="truncation")
    backend = choose_backend(args.backend, kind.name, folder, torch.device(device))
    if backend == "onnx":
        batches, labels = onnx_batches(folder, args.n, args.seed, args.label, args.truncation, args.batch_size)
        classes = int(info.get("num_classes") or 0) if labels is not None else 0
    else:
        generator, info = load_generator(folder, device)
        if args.label is not None:
            check_labels(generator, torch.tensor([args.label]))
        generator = generator.to(device)
        kwargs = {} if args.truncation is None else {"truncation": args.truncation}
        classes = int(info.get("num_classes") or 0) if kind.labels else 0
        labels = None
        if args.label is not None:
            labels = torch.full((args.n,), args.label, dtype=torch.long)
        elif classes > 0:
            labels = torch.arange(args.n) % classes
        batches = (to_uint8(b).cpu().numpy() for b in iter_samples(generator, args.n, args.seed, args.batch_size, labels,
                                                                       torch.device(device), **kwargs))
    png, npz = claim_outputs(picture_and_arrays(args.out), force=args.force)
    channels, size = int(info.get("channels", 1)), int(info.get("image_size", 32))
    check_room(npz, args.n, channels * size * size)
    per_class = min(10, args.n // classes) if args.label is None and classes > 0 and args.n >= classes else 0
    bf16 = torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=backend == "bf16")
    with removed_on_failure([png, npz]), bf16:  # the batches are drawn inside, as stream_npz consumes them
        first = stream_npz(npz, batches, args.n, labels.numpy() if labels is not None else None, max(SHOWN, classes * per_class))
        if per_class:
            index = torch.arange(classes).repeat_interleave(per_class) + classes * torch.arange(per_class).repeat(classes)
            names = info.get("class_names") or [str(c) for c in range(classes)]
            save_labeled_rows(torch.from_numpy(first[index.numpy()]), png, list(names))
        else:
            save_grid(torch.from_numpy(first[:SHOWN]), png)
    print(f"wrote {png} and {npz} ({args.n} images; backend {backend})")
    return 0
