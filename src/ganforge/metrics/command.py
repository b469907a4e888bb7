"""`ganforge eval`: score a model's samples against its data and print (and save) the scores."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ganforge.errors import GanforgeError

ROWS = (("fd", None, "Fréchet distance (lower is better)"), ("kid", "kid_std", "kernel distance, KID (lower is better)"),
        ("is", "is_std", "Inception Score (higher is better)"), ("precision", None, "precision (higher is better)"),
        ("recall", None, "recall (higher is better)"), ("accuracy", None, "conditional accuracy (higher is better)"))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge eval`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported model folder or run folder")
    parser.add_argument("--n", type=int, default=10000, help="number of samples to score (default 10000)")
    parser.add_argument("--metrics", help="comma-separated subset of fd,kid,is,pr,acc (default fd,kid,is,pr, "
                        "and acc, the digit classifier's agreement with the asked class, for conditional models)")
    parser.add_argument("--json", metavar="FILE", help="also write the scores to FILE as JSON")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled noise and KID subsets")
    parser.add_argument("--data", help="real data to compare with (default: the model's training data)")
    parser.add_argument("--extractor", default="auto", choices=["auto", "digits", "fashion", "inception"],
                        help="feature network (default auto: the MNIST/Fashion-MNIST classifier, else InceptionV3)")
    parser.add_argument("--inception-weights", metavar="PATH",
                        help="FID InceptionV3 state dict (.pth or .safetensors); default $GANFORGE_INCEPTION_WEIGHTS, "
                        "else the torch hub cache under pytorch-fid's or torch-fidelity's file name")
    parser.add_argument("--download-inception", action="store_true",
                        help="fetch pytorch-fid's InceptionV3 weights into the torch hub cache (SHA-256 checked) when none are found")
    parser.add_argument("--split", help="split of the real data (default: test when the data has one, else train)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N (default cpu)")


def format_scores(scores: dict[str, Any]) -> str:
    """An aligned two-column table of the scores."""
    lines = []
    for key, std_key, label in ROWS:
        if key not in scores:
            continue
        value = f"{scores[key]:.4f}" if key not in ("fd", "is") else f"{scores[key]:.3f}"
        if std_key in scores:
            value += f" ± {scores[std_key]:.4f}"
        if key == "kid" and "kid_subset_size" in scores:
            value += f" (subsets of {scores['kid_subset_size']})"
        lines.append((label, value))
    if "accuracy_per_class" in scores:
        lines.append(("  per class", " ".join(f"{v:.3f}" for v in scores["accuracy_per_class"])))
    if "extractor" in scores:
        lines.append(("feature extractor", str(scores["extractor"])))
    lines.append(("samples", str(scores.get("n"))))
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in lines)


def check_options(args: argparse.Namespace) -> None:
    """Refuse bad numbers, devices and --json targets before anything is loaded or sampled."""
    import torch

    from ganforge.metrics.evaluate import parse_metrics

    if args.metrics is not None:
        parse_metrics(args.metrics)
    if args.n < 2:
        raise GanforgeError(f"Sample count --n {args.n} is invalid; expected at least 2.")
    if args.batch_size < 1:
        raise GanforgeError(f"Batch size --batch-size {args.batch_size} is invalid; expected at least 1.")
    if not 0 <= args.seed < 2 ** 63:
        raise GanforgeError(f"Seed --seed {args.seed} is out of range; expected an integer from 0 to 2**63 - 1.")
    try:
        device = torch.device(args.device)
    except (RuntimeError, ValueError):
        raise GanforgeError(f"Device {args.device!r} is not a device; expected cpu, cuda or cuda:N.") from None
    if device.type not in ("cpu", "cuda"):
        raise GanforgeError(f"Device {args.device!r} is not supported; expected cpu, cuda or cuda:N.")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise GanforgeError(f"Device {args.device!r} is not available (this machine has no usable CUDA device); expected --device cpu.")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise GanforgeError(f"Device {args.device!r} is not available; expected cuda:0 to cuda:{torch.cuda.device_count() - 1}.")
    if args.json:
        check_json_target(Path(args.json))


def check_json_target(path: Path) -> None:
    """Refuse a --json path that is a folder, lies under a file, cannot be written, or would replace a file that is not a scores JSON."""
    if path.is_dir():
        raise GanforgeError(f"--json {str(path)!r} is a folder; expected a file name such as {str(path / 'scores.json')!r}.")
    if path.exists():
        try:
            earlier = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError):
            earlier = None
        if not (isinstance(earlier, dict) and "n" in earlier):
            raise GanforgeError(f"--json {str(path)!r} exists and is not a scores file of ganforge eval; "
                                "expected a new file name (an earlier scores file is replaced).")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise GanforgeError(f"--json {str(path)!r} lies under {str(parent)!r}, which is a file; expected a path in a folder.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GanforgeError(f"--json {str(path)!r} cannot be written (folder {str(parent)!r} is not writable); expected a writable place.")


def write_json(path: Path, scores: dict[str, Any]) -> None:
    """Write the scores to `path` whole or not at all (a temporary file swapped in)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(scores, indent=2) + "\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise GanforgeError(f"--json {str(path)!r} could not be written ({exc.strerror or type(exc).__name__}); expected a writable place.") from None


def load_extractor(args: argparse.Namespace, data: Any, metrics: tuple[str, ...]) -> Any:
    """The feature extractor, loaded, and a line on stderr saying which it is and why (the --extractor name when no image metric is asked for)."""
    from ganforge.metrics.evaluate import IMAGE_METRICS
    from ganforge.metrics.features.extractors import choose_extractor, get_extractor

    if not any(m in IMAGE_METRICS for m in metrics):
        return args.extractor
    data_name = getattr(data, "name", data)
    name, why = choose_extractor(args.extractor, data_name, args.inception_weights)
    extractor = get_extractor(name, data_name, args.inception_weights, args.device)
    print(f"features: {why}", file=sys.stderr)
    return extractor


def discover_inception(args: argparse.Namespace) -> bool:
    """Fill args.inception_weights from the discovery order (downloading with --download-inception); whether weights were found."""
    from ganforge.metrics.features.inception_weights import download_weights, find_weights

    found = find_weights(args.inception_weights)
    if found is None and getattr(args, "download_inception", False):
        path = download_weights()
        print(f"downloaded InceptionV3 weights to {str(path)!r}", file=sys.stderr)
        found = ("download", path)
    if found is not None and not args.inception_weights:
        args.inception_weights = str(found[1])
    return found is not None


def pretrained_free_applies(args: argparse.Namespace, info: dict, data: Any) -> bool:
    """Whether eval falls back to SWD, MS-SSIM and memorisation: colour data, no shipped classifier, nothing else asked for."""
    from ganforge.metrics.features.extractors import DATASET_CLASSIFIERS, normalise_data_name

    channels = info.get("channels") if isinstance(info, dict) else None
    return (args.metrics is None and args.extractor == "auto" and channels == 3
            and normalise_data_name(str(getattr(data, "name", data))) not in DATASET_CLASSIFIERS)


def run(args: argparse.Namespace) -> int:
    """Check the options, load the model, say which features are used, score, print the table and write the JSON."""
    from ganforge.export import load_generator
    from ganforge.metrics.evaluate import check_evaluation, evaluate

    check_options(args)
    generator, info = load_generator(args.model, args.device)
    if info.get("kind") == "translation" and info.get("paired"):  # a paired translator (pix2pix) is scored against held-out targets
        from ganforge.metrics.paired import run_paired_eval

        return run_paired_eval(generator, info, args)
    if info.get("kind") == "superres":  # a super-resolution model is scored on held-out photos, beside bicubic
        from ganforge.metrics.superres import run_superres_eval

        return run_superres_eval(generator, info, args)
    data, metrics = check_evaluation(generator, info, args.n, args.metrics, args.data, args.split)
    if not discover_inception(args) and pretrained_free_applies(args, info, data):
        from ganforge.metrics.pretrained_free import format_pretrained_free, pretrained_free_scores

        print("features: none: colour data without a shipped classifier and no InceptionV3 weights found, so scoring with "
              "SWD, MS-SSIM diversity and the memorisation check, which need no pretrained network "
              "(for FID/KID/IS/PR: --download-inception or --inception-weights PATH)", file=sys.stderr)
        scores = pretrained_free_scores(generator, info, args.n, str(data), args.seed, args.batch_size, args.device)
        print(format_pretrained_free(scores))
        if args.json:
            write_json(Path(args.json), scores)
        return 0
    extractor = load_extractor(args, data, metrics)
    scores = evaluate(generator, info, n=args.n, metrics=metrics, seed=args.seed, extractor=extractor,
                      data=data, inception_weights=args.inception_weights, split=args.split,
                      batch_size=args.batch_size, device=args.device)
    print(format_scores(scores))
    if args.json:
        write_json(Path(args.json), scores)
    return 0
