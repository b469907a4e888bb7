"""`ganforge eval`: score a model's samples against its data and print (and save) the scores."""
from __future__ import annotations

import argparse
import json
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
                        help="FID InceptionV3 state dict (.pth or .safetensors); default $GANFORGE_INCEPTION_WEIGHTS")
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
        lines.append((label, value))
    if "accuracy_per_class" in scores:
        lines.append(("  per class", " ".join(f"{v:.3f}" for v in scores["accuracy_per_class"])))
    if "extractor" in scores:
        lines.append(("feature extractor", str(scores["extractor"])))
    lines.append(("samples", str(scores.get("n"))))
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in lines)


def run(args: argparse.Namespace) -> int:
    """Load the model, sample, score, print the table and write the JSON."""
    import torch

    from ganforge.export import load_generator
    from ganforge.metrics.evaluate import evaluate, parse_metrics

    metrics = parse_metrics(args.metrics) if args.metrics is not None else None
    if args.n < 2:
        raise GanforgeError(f"Sample count --n {args.n} is invalid; expected at least 2.")
    if args.batch_size < 1:
        raise GanforgeError(f"Batch size --batch-size {args.batch_size} is invalid; expected at least 1.")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise GanforgeError(f"Device {args.device!r} is not available; expected cpu on this machine.")
    generator, info = load_generator(args.model, args.device)
    scores = evaluate(generator, info, n=args.n, metrics=metrics, seed=args.seed, extractor=args.extractor,
                      data=args.data, inception_weights=args.inception_weights, split=args.split,
                      batch_size=args.batch_size, device=args.device)
    print(format_scores(scores))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(scores, indent=2) + "\n")
    return 0
