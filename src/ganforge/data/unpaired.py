"""Two unpaired image domains for translation: how they are named, loaded, split and drawn.

Data specs (the `--data` value of a translation model):
- ``mnist-thickness``: the bundled demo, thin vs thick handwritten digits cut from the embedded MNIST
  (per digit, the third with least ink and the third with most);
- ``A,B``: two datasets joined by a comma, each ``mnist``, ``fashion-mnist`` or a folder of images
  (e.g. ``photos/summer,photos/winter`` or ``mnist,fashion-mnist``);
- ``DIR``: one folder holding ``trainA/`` and ``trainB/`` (and optionally ``testA/``, ``testB/``),
  the layout of the CycleGAN datasets, or simply ``A/`` and ``B/``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from torch import Tensor

from ganforge.contract import DataInfo
from ganforge.data.batches import BatchSource
from ganforge.data.dataset import ImageDataset
from ganforge.data.images import match_channels, resize_tensor
from ganforge.errors import GanforgeError

THICKNESS_DEMO = "mnist-thickness"
THICKNESS_FRACTION = 1 / 3  # share of each digit in each domain: its lightest third (thin), its heaviest (thick)


@dataclass
class UnpairedData:
    """The two domains of a translation task, with a short name for each."""

    a: ImageDataset
    b: ImageDataset
    name_a: str
    name_b: str


def ink_mass(images: Tensor) -> Tensor:
    """Total ink of each uint8 (N, C, H, W) image: the sum of its pixel values, as float64 (N,)."""
    return images.flatten(1).sum(1, dtype=torch.float64)


def split_by_thickness(dataset: ImageDataset, fraction: float = THICKNESS_FRACTION) -> tuple[ImageDataset, ImageDataset]:
    """(thin, thick): the `fraction` of images with least ink mass and the `fraction` with most, disjoint.

    Labelled data is split within each class, so both domains hold every class in the data's own
    proportions and differ in stroke thickness alone (a split over all digits at once would fill the
    thin domain with ones and leave almost none in the thick one). Ties are broken by index.
    """
    if not 0 < fraction <= 0.5:
        raise GanforgeError(f"Thickness fraction {fraction!r} is invalid; expected 0 < fraction <= 0.5.")
    ink = ink_mass(dataset.images)
    groups = [torch.arange(len(dataset))] if dataset.labels is None else \
        [(dataset.labels == c).nonzero().flatten() for c in dataset.labels.unique()]
    thin, thick = [], []
    for index in groups:
        k = int(len(index) * fraction)
        order = index[torch.argsort(ink[index], stable=True)]
        thin.append(order[:k])
        thick.append(order[len(order) - k:] if k else order[:0])
    thin_index, thick_index = torch.cat(thin).sort().values, torch.cat(thick).sort().values
    if len(thin_index) == 0:
        raise GanforgeError(f"Dataset {dataset.name!r} has {len(dataset)} images, too few to split by thickness; "
                            f"expected at least {int(1 / fraction)} per class.")
    return dataset.subset(thin_index), dataset.subset(thick_index)


def _resized(dataset: ImageDataset, image_size: Optional[int], channels: Optional[int], name: str) -> ImageDataset:
    images = dataset.images if image_size is None else resize_tensor(dataset.images, image_size)
    return ImageDataset(match_channels(images, channels), dataset.labels, dataset.class_names, name)


def load_thickness_demo(image_size: Optional[int] = None, channels: Optional[int] = None,
                        split: str = "train") -> UnpairedData:
    """The demo domains: thin digits (A) and thick digits (B) of the embedded MNIST, labels kept.

    Ink mass is measured on the original 28-px images, before any resizing.
    """
    from ganforge.data import load_dataset

    thin, thick = split_by_thickness(load_dataset("mnist", split=split))
    return UnpairedData(_resized(thin, image_size, channels, "mnist-thin"),
                        _resized(thick, image_size, channels, "mnist-thick"), "thin", "thick")


def domain_specs(spec: str, split: str = "train") -> tuple[str, str]:
    """The two dataset specs a translation data spec names (see the module docstring)."""
    text = str(spec).strip()
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise GanforgeError(f"Data {spec!r} does not name two domains; expected A,B (two datasets or folders joined by one comma).")
        return parts[0], parts[1]
    root = Path(text).expanduser()
    if root.is_dir():
        suffix = "train" if split == "train" else "test"
        for a, b in ((f"{suffix}A", f"{suffix}B"), ("A", "B")):
            if (root / a).is_dir() and (root / b).is_dir():
                return str(root / a), str(root / b)
        raise GanforgeError(f"Folder {text!r} has no {suffix}A/ and {suffix}B/ (or A/ and B/) sub-folders; "
                            "expected them, or two domains given as A,B.")
    raise GanforgeError(f"Data {spec!r} is not a translation data spec; expected {THICKNESS_DEMO}, A,B "
                        "(two datasets or folders), or a folder with trainA/ and trainB/.")


def load_unpaired(spec: str, image_size: Optional[int] = None, channels: Optional[int] = None,
                  split: str = "train") -> UnpairedData:
    """Both domains of `spec`, resized to `image_size`; with `channels` None they must agree in channels."""
    if str(spec).strip().lower() == THICKNESS_DEMO:
        return load_thickness_demo(image_size, channels, split)
    from ganforge.data import load_dataset

    spec_a, spec_b = domain_specs(spec, split)
    a = load_dataset(spec_a, image_size=image_size, channels=channels, split=split)
    b = load_dataset(spec_b, image_size=image_size, channels=channels, split=split)
    for label, given, dataset in (("A", spec_a, a), ("B", spec_b, b)):
        if len(dataset) == 0:
            raise GanforgeError(f"Domain {label} ({given!r}) holds no images; expected at least one.")
    if a.channels != b.channels:
        raise GanforgeError(f"Domains {spec_a!r} ({a.channels} channel(s)) and {spec_b!r} ({b.channels} channel(s)) "
                            "differ in channels; expected the same, or channels=1 or 3 (--channels) to convert both.")
    if a.image_size != b.image_size:
        raise GanforgeError(f"Domains {spec_a!r} ({a.image_size} px) and {spec_b!r} ({b.image_size} px) differ in size; "
                            "expected the same, or image_size (--image-size) to resize both.")
    return UnpairedData(a, b, Path(spec_a).name or spec_a, Path(spec_b).name or spec_b)


class UnpairedBatchSource:
    """Independent shuffled batches from two domains: `next()` -> {"a": (B, C, H, W), "b": (B, C, H, W)}.

    Each domain has its own reproducible order (seeds `seed` and `seed + 1`); the state is both positions.
    """

    def __init__(self, data: UnpairedData, batch_size: int, seed: int, device: torch.device,
                 channels_last: bool = False, rank: int = 0, world_size: int = 1, info: Optional[DataInfo] = None):
        self.data = data
        self.info = info or DataInfo(data.a.channels, data.a.image_size)
        self.batch_size = batch_size
        self.a = BatchSource(data.a, batch_size, seed, device, channels_last, rank, world_size)
        self.b = BatchSource(data.b, batch_size, seed + 1, device, channels_last, rank, world_size)

    @property
    def steps_per_epoch(self) -> int:
        """Batches per pass over the larger domain (per process)."""
        return max(self.a.steps_per_epoch, self.b.steps_per_epoch)

    def next(self) -> dict[str, Tensor]:
        """The next pair of unrelated batches, float in [-1, 1]."""
        return {"a": self.a.next()["images"], "b": self.b.next()["images"]}

    def state_dict(self) -> dict:
        """Where in each domain's stream this source stands."""
        return {"a": self.a.state_dict(), "b": self.b.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a saved position."""
        self.a.load_state_dict(state["a"])
        self.b.load_state_dict(state["b"])
