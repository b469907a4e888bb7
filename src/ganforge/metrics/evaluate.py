"""Score a generator, or any set of images, against the real data: FD, KID, IS, precision/recall."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Optional, Union

import torch
from torch import Tensor, nn

from ganforge.data.dataset import ImageDataset, to_float
from ganforge.errors import GanforgeError
from ganforge.metrics.features.extractors import FeatureExtractor, get_extractor, normalise_data_name
from ganforge.metrics.reference import default_split, reference_stats
from ganforge.metrics.scores.frechet import frechet_distance, gaussian_stats
from ganforge.metrics.scores.inception_score import inception_score
from ganforge.metrics.scores.kid import kernel_inception_distance, kid_subset_size
from ganforge.metrics.scores.precision_recall import precision_recall

MAX_SAMPLES = 1_000_000  #: samples generated for one score (20 x the 50,000 of the usual FID)
IMAGE_METRICS = ("fd", "kid", "is", "pr")  # scores of any set of images
METRICS = IMAGE_METRICS + ("acc",)  # acc: conditional accuracy, a score of a class-conditional generator
#: result key -> True when lower is better
DIRECTION = {"fd": True, "kid": True, "is": False, "precision": False, "recall": False, "accuracy": False}
KID_SUBSETS, KID_SUBSET_SIZE, IS_SPLITS, PR_K = 100, 1000, 10, 3


def parse_metrics(metrics: Union[str, Sequence[str]]) -> tuple[str, ...]:
    """('fd', 'kid', ...) from "fd,kid" or a sequence, naming any unknown metric."""
    names = [m.strip().lower() for m in (metrics.split(",") if isinstance(metrics, str) else metrics) if m.strip()]
    for name in names:
        if name not in METRICS:
            raise GanforgeError(f"Unknown metric {name!r}; expected a comma-separated subset of {','.join(METRICS)}.")
    if not names:
        raise GanforgeError(f"No metric was asked for; expected a comma-separated subset of {','.join(METRICS)}.")
    return tuple(dict.fromkeys(names))


def result_key(metric: str) -> str:
    """The result key that ranks a metric: fd -> fd, pr -> precision, acc -> accuracy."""
    return {"pr": "precision", "acc": "accuracy"}.get(metric, metric)


def default_metrics(generator: nn.Module) -> tuple[str, ...]:
    """Every image metric, and conditional accuracy when the generator is class-conditional."""
    return METRICS if int(getattr(generator, "num_classes", 0)) > 0 else IMAGE_METRICS


def _batches(images: Union[Tensor, Iterable[Tensor]], batch_size: int) -> Iterable[Tensor]:
    if isinstance(images, Tensor):
        if images.dim() != 4:
            raise GanforgeError(f"Images of shape {tuple(images.shape)} cannot be scored; expected (N, C, H, W).")
        return (images[i:i + batch_size] for i in range(0, len(images), batch_size))
    return images


def _as_float(batch: Tensor) -> Tensor:
    return to_float(batch) if batch.dtype == torch.uint8 else batch.float()


def _random_rows(features: Tensor, m: int, seed: int) -> Tensor:
    """`m` rows of `features` drawn at random without replacement (seeded), or all of them in order when m covers them."""
    if m >= len(features):
        return features
    return features[torch.randperm(len(features), generator=torch.Generator().manual_seed(seed))[:m]]


@torch.no_grad()
def score_images(images: Union[Tensor, Iterable[Tensor]], data: Union[str, ImageDataset] = "mnist",
                 metrics: Union[str, Sequence[str]] = IMAGE_METRICS, extractor: Union[str, FeatureExtractor] = "auto", *,
                 inception_weights: Optional[str] = None, split: Optional[str] = None, seed: int = 0,
                 batch_size: int = 500, device: Optional[Union[str, torch.device]] = None,
                 kid_subsets: int = KID_SUBSETS, precision: str = "fp32", resize: Optional[str] = None) -> dict[str, Any]:
    """Scores of images (a tensor (N, C, H, W) or an iterable of batches; float [-1, 1] or uint8) against `data`.

    The real images are resized to the scored images' size and channels, then both go through the
    same extractor. Returns keys fd, kid, kid_std, kid_subset_size, is, is_std, precision, recall
    (those asked for), extractor and n. KID draws subsets of KID_SUBSET_SIZE vectors, fewer when
    fewer samples are scored: `kid_subset_size` is the size used. Precision/recall compare equal
    numbers of real and generated vectors, each a seeded random draw of its set. With the TF-Inception
    network the real data is the whole training split (as the papers score), `protocol` says how images
    became features and what the reference is, and IS is skipped (`is_skipped` says why): that file has
    no classifier.
    """
    wanted = parse_metrics(metrics)
    if "acc" in wanted:
        raise GanforgeError("Metric 'acc' scores a conditional generator, not a set of images; expected it with evaluate().")
    data_name = data.name if isinstance(data, ImageDataset) else data
    fx = get_extractor(extractor, data_name, inception_weights, device, precision, resize)
    if fx.name == "tf-inception" and split is None and not isinstance(data, ImageDataset):
        split = "train"
    if "is" in wanted and fx.num_classes == 0:
        wanted = tuple(m for m in wanted if m != "is")
        skipped = f"{fx.name} has no classifier; IS needs logits, e.g. pytorch-fid's weights (--extractor inception --inception-weights PATH)"
    else:
        skipped = None
    feats, logits, shape = [], [], None
    for batch in _batches(images, batch_size):
        if batch.dim() != 4 or batch.shape[1] not in (1, 3):
            raise GanforgeError(f"Image batch of shape {tuple(batch.shape)} cannot be scored; expected (N, 1 or 3, H, W).")
        if shape is None:
            shape = tuple(batch.shape[1:])
        elif tuple(batch.shape[1:]) != shape:
            raise GanforgeError(f"Image batch of shape {tuple(batch.shape)} differs from the first {shape}; expected one size.")
        f, lg = fx.extract(_as_float(batch))
        feats.append(f.cpu())
        if "is" in wanted:
            logits.append(lg.cpu())
    if shape is None:
        raise GanforgeError("No images were given to score; expected at least 2.")
    fake = torch.cat(feats)
    if len(fake) < 2:
        raise GanforgeError(f"{len(fake)} image was given to score; expected at least 2.")
    out: dict[str, Any] = {}
    if any(m in wanted for m in ("fd", "kid", "pr")):
        ref = reference_stats(data, fx, image_size=shape[-1], channels=shape[0], split=split, batch_size=batch_size)
        if fx.protocol:
            out["protocol"] = {**fx.protocol, "reference": {"data": str(ref.key["data"]), "split": ref.key["split"], "images": ref.n,
                                                            "image_size": ref.key["image_size"]}}
        if "fd" in wanted:
            out["fd"] = frechet_distance(*gaussian_stats(fake), ref.mean, ref.cov)
        if "kid" in wanted:
            out["kid"], out["kid_std"] = kernel_inception_distance(ref.features, fake, kid_subsets, KID_SUBSET_SIZE, seed)
            out["kid_subset_size"] = kid_subset_size(KID_SUBSET_SIZE, len(ref.features), len(fake))
        if "pr" in wanted:
            # equal set sizes, as the k-NN radii depend on them; each side a seeded random draw, never
            # a leading slice (which would be the first classes of a class-ordered folder)
            m = min(len(ref.features), len(fake))
            out["precision"], out["recall"] = precision_recall(_random_rows(ref.features, m, seed),
                                                               _random_rows(fake, m, seed), PR_K)
    if "is" in wanted:
        out["is"], out["is_std"] = inception_score(torch.cat(logits), IS_SPLITS)
    if skipped:
        out["is_skipped"] = skipped
    out["extractor"], out["n"] = fx.name, len(fake)
    return out


def _info_value(info: Any, name: str, default: Any = None) -> Any:
    if isinstance(info, dict):
        return info.get(name, default)
    return getattr(info, name, default)


def check_evaluation(generator: nn.Module, info: Any, n: int = 10000, metrics: Union[str, Sequence[str], None] = None,
                     data: Union[str, ImageDataset, None] = None,
                     split: Optional[str] = None) -> tuple[Union[str, ImageDataset], tuple[str, ...]]:
    """(data scored against, metrics wanted) of an evaluation request, refused with one sentence before any work when it cannot run."""
    from ganforge.metrics.scores.conditional_accuracy import classifier_for

    if _info_value(info, "kind") == "translation":
        raise GanforgeError("This model translates images; expected a noise generator (score translations with score_images).")
    data = data if data is not None else _info_value(info, "data")
    if data is None:
        raise GanforgeError("The model does not record its training data; expected the data to score against (--data).")
    if n < 2:
        raise GanforgeError(f"Sample count {n} is invalid; expected at least 2.")
    if not isinstance(data, ImageDataset):
        _check_data(str(data), split)
    wanted = parse_metrics(metrics if metrics is not None else default_metrics(generator))
    if "acc" in wanted:
        if int(getattr(generator, "num_classes", 0)) <= 0:
            raise GanforgeError("Metric 'acc' was asked of an unconditional model; expected a class-conditional one (e.g. --model cgan).")
        classifier_for(_data_name(data))
    return data, wanted


def _check_data(data: str, split: Optional[str]) -> None:
    """Refuse a data spec that names neither a dataset nor an existing folder, and a split it does not have."""
    from ganforge.data import DATASETS

    if split is not None and split not in ("train", "test"):
        raise GanforgeError(f"Split {split!r} is invalid; expected 'train' or 'test'.")
    key = data.strip().lower().replace("_", "-")
    if key in DATASETS or normalise_data_name(data) in DATASETS:
        return
    path = Path(data).expanduser()
    if not path.exists():
        raise GanforgeError(f"Data {data!r} is neither a known dataset ({', '.join(DATASETS)}) nor an existing path; "
                            "expected one of those names or a folder of images.")
    if not path.is_dir():
        raise GanforgeError(f"Data path {data!r} is not a folder; expected a folder of images.")
    if split == "test" and default_split(data) != "test":
        raise GanforgeError(f"Folder {data!r} has no train/ and test/ sub-folders; expected them for --split test (or use --split train).")


def _data_name(data: Union[str, ImageDataset]) -> str:
    return str(data.name if isinstance(data, ImageDataset) else data)


def evaluate(generator: nn.Module, info: Any, n: int = 10000, metrics: Union[str, Sequence[str], None] = None,
             seed: int = 0, extractor: Union[str, FeatureExtractor] = "auto", data: Union[str, ImageDataset, None] = None, *,
             inception_weights: Optional[str] = None, split: Optional[str] = None, batch_size: int = 500,
             device: Optional[Union[str, torch.device]] = None, kid_subsets: int = KID_SUBSETS,
             precision: str = "fp32", resize: Optional[str] = None, **generator_kwargs) -> dict[str, Any]:
    """Scores of `n` samples of a noise generator against its data (`data`, else info["data"]).

    `info` is the exported model's info dict (or a DataInfo); conditional generators are sampled
    with labels cycling through every class. `metrics` defaults to `default_metrics(generator)`.
    Keys as in `score_images`, plus `accuracy` and `accuracy_per_class` (the shipped classifier's
    agreement with the asked class, overall and per class) for "acc".
    """
    from ganforge.metrics.scores.conditional_accuracy import classifier_for, conditional_accuracy
    from ganforge.sampling import iter_samples

    data, wanted = check_evaluation(generator, info, n, metrics, data, split)
    image_metrics = tuple(m for m in wanted if m != "acc")
    gen_device = next(generator.parameters()).device
    device = torch.device(device) if device is not None else gen_device
    was_training = generator.training
    generator.eval()
    try:
        out: dict[str, Any] = {"n": n}
        if image_metrics:
            samples = iter_samples(generator, n, seed=seed, batch_size=batch_size, device=gen_device, **generator_kwargs)
            out = score_images(samples, data, image_metrics, extractor, inception_weights=inception_weights,
                               split=split, seed=seed, batch_size=batch_size, device=device, kid_subsets=kid_subsets,
                               precision=precision, resize=resize)
        if "acc" in wanted:
            classes = int(generator.num_classes)
            acc = conditional_accuracy(generator, max(1, n // classes), seed, classifier_for(_data_name(data)),
                                       batch_size, gen_device)
            out["accuracy"], out["accuracy_per_class"] = acc["overall"], acc["per_class"]
        return out
    finally:
        generator.train(was_training)
