"""Train the classifier that scores MNIST-like samples, print its test accuracy, and write its weights.

    python scripts/train_digit_classifier.py --dataset mnist          # -> src/ganforge/metrics/features/weights/digits.*
    python scripts/train_digit_classifier.py --dataset fashion-mnist  # -> .../weights/fashion.*

MNIST comes from the copy embedded in the package; Fashion-MNIST from its IDX files
(Debian/Ubuntu package dataset-fashion-mnist, or --idx-dir).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ganforge.data.fashion import idx_file, read_idx  # noqa: E402
from ganforge.errors import GanforgeError  # noqa: E402
from ganforge.metrics.features.digit_classifier import WEIGHTS_DIR, DigitClassifier, file_digest  # noqa: E402

NAMES = {"mnist": "digits", "fashion-mnist": "fashion"}
FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def load_split(dataset: str, idx_dir: str) -> tuple[np.ndarray, ...]:
    """(train images, train labels, test images, test labels) as uint8 arrays."""
    if dataset == "mnist":
        data = np.load(ROOT / "src" / "ganforge" / "data" / "mnist.npz")
        return data["x_train"], data["y_train"], data["x_test"], data["y_test"]
    folder = Path(idx_dir)
    try:
        return tuple(read_idx(idx_file(folder, s)) for s in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"))
    except GanforgeError as exc:
        sys.exit(f"train_digit_classifier: {exc}")


def augment(x: torch.Tensor, gen: torch.Generator, rotate_deg: float, shift_px: float, flip: bool) -> torch.Tensor:
    """Random small rotations and shifts (and horizontal flips), one per image."""
    n = x.shape[0]
    angle = (torch.rand(n, generator=gen) * 2 - 1) * math.radians(rotate_deg)
    shift = (torch.rand(n, 2, generator=gen) * 2 - 1) * (2 * shift_px / x.shape[-1])
    cos, sin = angle.cos(), angle.sin()
    sign = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0) if flip else torch.ones(n)
    theta = torch.stack([torch.stack([cos * sign, -sin, shift[:, 0]], 1), torch.stack([sin * sign, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, mode="bilinear", padding_mode="zeros", align_corners=False) - 1


def logits_of(model: DigitClassifier, images: torch.Tensor) -> torch.Tensor:
    """Eval-mode logits of many images, in chunks."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(images[i:i + 1000]) for i in range(0, len(images), 1000)])


def fold_temperature(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fit the temperature T that minimises the cross-entropy of logits / T and fold it into the head.

    Dropout and augmentation leave the trained classifier under-confident (softmax ~0.95 on digits it
    gets right 99.5% of the time), which caps the Inception Score of real data well below the class
    count; temperature scaling (Guo et al. 2017) fixes the confidence without changing any prediction
    or the features.
    """
    logits = logits_of(model, images)
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    with torch.no_grad():
        model.head.weight.div_(t)
        model.head.bias.div_(t)
    return t


@torch.no_grad()
def accuracy(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of correctly classified images."""
    model.eval()
    correct = sum(int((model(images[i:i + 1000]).argmax(1) == labels[i:i + 1000]).sum()) for i in range(0, len(images), 1000))
    return correct / len(images)


def train(xtr: torch.Tensor, ytr: torch.Tensor, xte: torch.Tensor, yte: torch.Tensor, aug: dict,
          args: argparse.Namespace) -> DigitClassifier:
    """A classifier trained with Adam and a one-cycle schedule on augmented batches."""
    gen = torch.Generator().manual_seed(args.seed)
    model = DigitClassifier(num_classes=10)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = len(xtr) // args.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch)
    started = time.time()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xtr), generator=gen)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * args.batch_size:(i + 1) * args.batch_size]
            loss = F.cross_entropy(model(augment(xtr[idx], gen, **aug)), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach())
        print(f"epoch {epoch + 1}/{args.epochs}  loss {total / steps_per_epoch:.4f}  "
              f"test accuracy {accuracy(model, xte, yte):.4f}  ({time.time() - started:.0f} s)", flush=True)
    return model


def main(argv=None) -> int:
    """Train (or, with --calibrate-only, reload), calibrate, evaluate on the test split, save weights and metadata."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=sorted(NAMES), default="mnist")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--idx-dir", default=FASHION_DIR, help="folder of the Fashion-MNIST IDX files")
    p.add_argument("--out", default=str(WEIGHTS_DIR), help="folder for <name>.safetensors and <name>.json")
    p.add_argument("--calibrate-only", action="store_true",
                   help="skip training: reload <out>/<name>.safetensors and only fit and fold its temperature")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    xtr, ytr, xte, yte = load_split(args.dataset, args.idx_dir)
    to_float = lambda a: torch.from_numpy(np.array(a)).float().div(127.5).sub(1).unsqueeze(1)  # noqa: E731
    xtr, xte = to_float(xtr), to_float(xte)
    ytr, yte = torch.from_numpy(ytr.astype(np.int64)), torch.from_numpy(yte.astype(np.int64))
    aug = dict(rotate_deg=10.0, shift_px=2.0, flip=False) if args.dataset == "mnist" else dict(rotate_deg=0.0, shift_px=2.0, flip=True)
    out, name = Path(args.out), NAMES[args.dataset]
    from safetensors.torch import load_file, save_file

    started = time.time()
    meta = {"dataset": args.dataset, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
            "seed": args.seed, "augmentation": aug}
    if args.calibrate_only:
        model = DigitClassifier(num_classes=10)
        model.load_state_dict(load_file(str(out / f"{name}.safetensors")))
        if (out / f"{name}.json").is_file():
            meta = json.loads((out / f"{name}.json").read_text())
    else:
        model = train(xtr, ytr, xte, yte, aug, args)
        meta["train_seconds"] = round(time.time() - started)
    temperature = fold_temperature(model, xtr, ytr)  # fitted on training images: the test split stays unseen
    test_acc = accuracy(model, xte, yte)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / f"{name}.safetensors"))
    os.chmod(out / f"{name}.safetensors", 0o644)
    meta.update({"test_accuracy": round(test_acc, 4), "test_images": len(xte),
                 "temperature": round(temperature * meta.get("temperature", 1.0), 4),
                 "parameters": sum(v.numel() for v in model.parameters()),
                 "sha256_16": file_digest(out / f"{name}.safetensors"), "torch": torch.__version__})
    (out / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{args.dataset} test accuracy: {test_acc * 100:.2f}% ({len(xte)} images), temperature {temperature:.3f} "
          f"folded into the head; weights: {out / (name + '.safetensors')}")
    return 0

if __name__ == "__main__":
    sys.exit(main())
