"""Paired images for image-to-image translation (pix2pix): input A and target B, pixel-aligned.

Data specs (the `--data` value of a paired model):
- ``mnist-edges``: edge maps (thresholded Sobel magnitude) -> the embedded MNIST digits they came from,
  digit labels kept for measuring;
- ``colorize:FOLDER``: grayscale (ITU-R 601 luma) -> colour, from any folder of colour images
  (its ``train/`` and ``test/`` sub-folders are the splits when present);
- ``DIR`` with ``A/`` and ``B/`` (or ``trainA/``, ``trainB/`` and optionally ``testA/``, ``testB/``):
  files paired by name without suffix (``A/0001.png`` with ``B/0001.jpg``);
- ``DIR_A,DIR_B``: two folders paired by name the same way;
- ``DIR`` holding images directly, or ``train/`` (and ``test/`` or ``val/``) sub-folders of images: the
  pix2pix "aligned" layout, each file A and B side by side (A left, B right).

Every pair is kept as one uint8 tensor in memory; `PairedBatchSource` draws batches with the same random
jitter on both sides of each pair (Isola et al. 2017: resize up by 286/256, random crop, mirror),
vectorised over the batch and resumable from two integers.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from ganforge.contract import DataInfo
from ganforge.data.batches import ShuffledOrder
from ganforge.data.dataset import ImageDataset, to_float
from ganforge.data.folder import parallel_map
from ganforge.data.images import IMAGE_SUFFIXES, decode_image, is_image_file, match_channels, read_header, resize_tensor, to_8bit
from ganforge.errors import GanforgeError

MNIST_EDGES = "mnist-edges"
COLORIZE = "colorize:"
JITTER_SCALE = 286 / 256  #: the paper's load size over crop size
SOBEL_THRESHOLD = 1.0  #: edge where the Sobel gradient magnitude of the [0, 1] digit exceeds this


@dataclass
class PairedData:
    """Inputs `a` and targets `b` of a paired task: same count and size, item i of each forming a pair.

    `flip` says whether mirroring is a valid jitter for the task (not for digits).
    """

    a: ImageDataset
    b: ImageDataset
    name_a: str
    name_b: str
    flip: bool = True

    def __len__(self) -> int:
        return len(self.a)

    @property
    def labels(self) -> Optional[Tensor]:
        """Labels of the pairs when the task has them (the digit of mnist-edges), else None."""
        return self.a.labels


# --- built-in tasks --------------------------------------------------------------------------------

def sobel_edges(images: Tensor, threshold: float = SOBEL_THRESHOLD) -> Tensor:
    """uint8 (N, 1, H, W) edge maps, 255 on edges: Sobel gradient magnitude of the [0, 1] image above `threshold`."""
    x = images.float().div_(255.0)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]).view(1, 1, 3, 3)
    kernels = torch.cat([kx, kx.transpose(2, 3)])
    out = torch.empty_like(images)
    for start in range(0, len(images), 4096):
        g = F.conv2d(x[start:start + 4096], kernels, padding=1)
        out[start:start + 4096] = (g.square().sum(1, keepdim=True) > threshold ** 2).to(torch.uint8) * 255
    return out


def load_mnist_edges(image_size: Optional[int] = None, channels: Optional[int] = None, split: str = "train") -> PairedData:
    """Edge maps (A) -> digits (B) of the embedded MNIST; edges are found at the final size, labels kept."""
    from ganforge.data.embedded import load_mnist

    digits = load_mnist(split, image_size)
    edges = sobel_edges(digits.images)
    a = ImageDataset(match_channels(edges, channels), digits.labels, digits.class_names, "mnist-edge-maps")
    b = ImageDataset(match_channels(digits.images, channels), digits.labels, digits.class_names, "mnist")
    return PairedData(a, b, "edges", "digits", flip=False)


def load_colorize(folder: str, image_size: Optional[int] = None, split: str = "train") -> PairedData:
    """Grayscale (A, one channel) -> colour (B, three channels) made from a folder of colour images."""
    from ganforge.data import load_dataset

    colour = load_dataset(folder, image_size=image_size, channels=3, split=split)
    if len(colour) == 0:
        raise GanforgeError(f"Folder {folder!r} holds no images; expected colour images to make gray/colour pairs.")
    gray = ImageDataset(match_channels(colour.images, 1), colour.labels, colour.class_names, f"{colour.name}-gray")
    return PairedData(gray, colour, "gray", "colour")


# --- folders --------------------------------------------------------------------------------------

def _images_by_stem(folder: Path, side: str) -> dict[str, Path]:
    """The image files of a folder keyed by name without suffix; an error when empty or a stem repeats."""
    try:
        files = sorted((p for p in folder.iterdir() if p.is_file() and is_image_file(p)), key=lambda p: p.name)
    except OSError as exc:
        raise GanforgeError(f"Folder {str(folder)!r} could not be listed ({exc.strerror or exc}); expected a readable folder.") from None
    if not files:
        raise GanforgeError(f"Side {side} folder {str(folder)!r} holds no images; expected files ending in {', '.join(IMAGE_SUFFIXES)}.")
    found: dict[str, Path] = {}
    for path in files:
        if path.stem in found:
            raise GanforgeError(f"Files {found[path.stem].name!r} and {path.name!r} in {str(folder)!r} share the name "
                                f"{path.stem!r}; expected one file per name to pair by.")
        found[path.stem] = path
    return found


def _check_size(files: list[Path], headers: list, image_size: Optional[int], where: Path) -> int:
    """The side images are loaded at: `image_size`, or the one square size all the files share."""
    if image_size is not None:
        return image_size
    first = headers[0]
    for path, h in zip(files, headers):
        if (h.width, h.height) != (first.width, first.height) or h.width != h.height:
            raise GanforgeError(f"Images in {str(where)!r} are not all one square size ({first.width}x{first.height} in "
                                f"{files[0].name!r}, {h.width}x{h.height} in {path.name!r}); pass image_size to resize them.")
    return first.width


def _decode_all(files: list[Path], channels: int, size: int) -> Tensor:
    images = torch.empty((len(files), channels, size, size), dtype=torch.uint8)
    target = images.numpy()

    def fill(i: int) -> None:
        target[i] = decode_image(files[i], channels, size)

    parallel_map(fill, len(files))
    return images


def load_pair_folders(folder_a: str | Path, folder_b: str | Path, image_size: Optional[int] = None,
                      channels: Optional[int] = None) -> PairedData:
    """Two folders whose files pair by name without suffix; partners must have the same pixel size."""
    root_a, root_b = Path(folder_a).expanduser(), Path(folder_b).expanduser()
    for side, root in (("A", root_a), ("B", root_b)):
        if not root.is_dir():
            raise GanforgeError(f"Side {side} folder {str(root)!r} does not exist; expected a folder of images.")
    by_a, by_b = _images_by_stem(root_a, "A"), _images_by_stem(root_b, "B")
    for stem, path in by_a.items():
        if stem not in by_b:
            raise GanforgeError(f"File {str(path)!r} has no partner in {str(root_b)!r}; expected a B image named {stem!r} "
                                "(any image suffix).")
    for stem, path in by_b.items():
        if stem not in by_a:
            raise GanforgeError(f"File {str(path)!r} has no partner in {str(root_a)!r}; expected an A image named {stem!r} "
                                "(any image suffix).")
    stems = sorted(by_a)
    files_a, files_b = [by_a[s] for s in stems], [by_b[s] for s in stems]
    headers_a = parallel_map(lambda i: read_header(files_a[i]), len(files_a))
    headers_b = parallel_map(lambda i: read_header(files_b[i]), len(files_b))
    for fa, fb, ha, hb in zip(files_a, files_b, headers_a, headers_b):
        if (ha.width, ha.height) != (hb.width, hb.height):
            raise GanforgeError(f"Pair {str(fa)!r} ({ha.width}x{ha.height}) and {str(fb)!r} ({hb.width}x{hb.height}) differ "
                                "in size; expected partners of the same pixel size.")
    size = _check_size(files_a, headers_a, image_size, root_a)
    ch_a = channels or (1 if all(h.gray for h in headers_a) else 3)
    ch_b = channels or (1 if all(h.gray for h in headers_b) else 3)
    a = ImageDataset(_decode_all(files_a, ch_a, size), name=root_a.resolve().name)
    b = ImageDataset(_decode_all(files_b, ch_b, size), name=root_b.resolve().name)
    return PairedData(a, b, a.name, b.name)


def decode_halves(path: Path, channels: int, size: Optional[int]) -> tuple[np.ndarray, np.ndarray]:
    """Left and right halves of a side-by-side image as two (channels, S, S) uint8 arrays (center-cropped squares)."""
    try:
        with Image.open(path) as im:
            im.load()
            image = to_8bit(im)
            image = image.convert("L" if channels == 1 else "RGB")
            width, height = image.size
            half = width // 2
            side = min(half, height)
            target = side if size is None else size
            halves = []
            for left in (0, half):
                x0, y0 = left + (half - side) / 2.0, (height - side) / 2.0
                part = image.resize((target, target), Image.LANCZOS, box=(x0, y0, x0 + side, y0 + side))
                array = np.asarray(part)
                halves.append(array[None] if array.ndim == 2 else array.transpose(2, 0, 1))
    except Exception as exc:  # Pillow raises several types for bad files
        raise GanforgeError(f"Image file {str(path)!r} could not be read ({type(exc).__name__}); "
                            "expected a complete PNG, JPEG, WebP or BMP image.") from None
    return halves[0], halves[1]


def load_aligned(folder: str | Path, image_size: Optional[int] = None, channels: Optional[int] = None) -> PairedData:
    """A folder of side-by-side images (A left, B right, each half W/2 x H), the pix2pix datasets' layout."""
    root = Path(folder).expanduser()
    files = sorted((p for p in root.iterdir() if p.is_file() and is_image_file(p)), key=lambda p: p.name) if root.is_dir() else []
    if not files:
        raise GanforgeError(f"Folder {str(root)!r} holds no images; expected side-by-side A|B images "
                            f"({', '.join(IMAGE_SUFFIXES)}).")
    headers = parallel_map(lambda i: read_header(files[i]), len(files))
    for path, h in zip(files, headers):
        if h.width % 2:
            raise GanforgeError(f"Image {str(path)!r} is {h.width}x{h.height}, an odd width, so its A and B halves differ in "
                                "size; expected A and B side by side, each half the same size.")
    if image_size is None:
        first = headers[0]
        for path, h in zip(files, headers):
            if (h.width, h.height) != (first.width, first.height) or h.width != 2 * h.height:
                raise GanforgeError(f"Images in {str(root)!r} are not all one 2:1 size ({first.width}x{first.height} in "
                                    f"{files[0].name!r}, {h.width}x{h.height} in {path.name!r}); pass image_size to resize the halves.")
        image_size = first.height
    ch = channels or (1 if all(h.gray for h in headers) else 3)
    a = torch.empty((len(files), ch, image_size, image_size), dtype=torch.uint8)
    b = torch.empty_like(a)
    ta, tb = a.numpy(), b.numpy()

    def fill(i: int) -> None:
        ta[i], tb[i] = decode_halves(files[i], ch, image_size)

    parallel_map(fill, len(files))
    name = root.resolve().name
    return PairedData(ImageDataset(a, name=f"{name}-A"), ImageDataset(b, name=f"{name}-B"), "A", "B")


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() and is_image_file(p) for p in folder.iterdir())


def load_paired(spec: str, image_size: Optional[int] = None, channels: Optional[int] = None,
                split: str = "train") -> PairedData:
    """The pairs of `spec` (see the module docstring) for `split` ("train" or "test"), resized to `image_size`."""
    if split not in ("train", "test"):
        raise GanforgeError(f"Split {split!r} is invalid; expected 'train' or 'test'.")
    text = str(spec).strip()
    if text.lower() == MNIST_EDGES:
        return load_mnist_edges(image_size, channels, split)
    if text.lower().startswith(COLORIZE):
        folder = text[len(COLORIZE):].strip()
        if not folder:
            raise GanforgeError(f"Data {spec!r} names no folder; expected colorize:FOLDER (a folder of colour images).")
        return load_colorize(folder, image_size, split)
    if "," in text:
        parts = [p.strip() for p in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise GanforgeError(f"Data {spec!r} does not name two folders; expected DIR_A,DIR_B joined by one comma.")
        if split == "test":
            raise GanforgeError(f"Data {spec!r} has no test split; expected a folder with testA/ and testB/ for held-out pairs.")
        return load_pair_folders(parts[0], parts[1], image_size, channels)
    root = Path(text).expanduser()
    if not root.is_dir():
        raise GanforgeError(f"Data {spec!r} is not a paired data spec; expected {MNIST_EDGES}, colorize:FOLDER, "
                            "a folder with A/ and B/ (or trainA/ and trainB/), or a folder of side-by-side A|B images.")
    suffix = "train" if split == "train" else "test"
    if (root / "trainA").is_dir() or (root / "trainB").is_dir():
        a, b = root / f"{suffix}A", root / f"{suffix}B"
        if not (a.is_dir() and b.is_dir()):
            raise GanforgeError(f"Folder {text!r} lacks {a.name}/ or {b.name}/; expected both for the {split} split.")
        return load_pair_folders(a, b, image_size, channels)
    if (root / "A").is_dir() or (root / "B").is_dir():
        if split == "test":
            raise GanforgeError(f"Folder {text!r} has A/ and B/ but no testA/ and testB/; expected those for held-out pairs.")
        return load_pair_folders(root / "A", root / "B", image_size, channels)
    if _has_images(root / "train"):
        if split == "train":
            return load_aligned(root / "train", image_size, channels)
        for name in ("test", "val"):
            if _has_images(root / name):
                return load_aligned(root / name, image_size, channels)
        raise GanforgeError(f"Folder {text!r} has train/ but no test/ or val/ images; expected one for held-out pairs.")
    if split == "test":
        raise GanforgeError(f"Folder {text!r} has no test split; expected train/ and test/ (or val/) sub-folders.")
    return load_aligned(root, image_size, channels)


def has_test_split(spec: str) -> bool:
    """Whether `spec` holds held-out pairs (split "test") besides its training pairs."""
    text = str(spec).strip()
    if text.lower() == MNIST_EDGES:
        return True
    if text.lower().startswith(COLORIZE):
        root = Path(text[len(COLORIZE):].strip()).expanduser()
        return (root / "train").is_dir() and (root / "test").is_dir()
    if "," in text:
        return False
    root = Path(text).expanduser()
    if (root / "trainA").is_dir() or (root / "trainB").is_dir():
        return (root / "testA").is_dir() and (root / "testB").is_dir()
    if (root / "A").is_dir() or (root / "B").is_dir():
        return False
    return _has_images(root / "train") and (_has_images(root / "test") or _has_images(root / "val"))


# --- batches --------------------------------------------------------------------------------------

class PairedBatchSource(ShuffledOrder):
    """Shuffled batches of pairs, `next()` -> {"a": (B, Ca, S, S), "b": (B, Cb, S, S)} float in [-1, 1].

    The pairs stay one uint8 tensor (A and B channels side by side) on the device, resized once to the
    jitter load size; each batch is cropped (and mirrored) by one gather, identically for A and B.
    Batch order and jitter are functions of (seed, epoch, position), so the state is two integers.
    """

    def __init__(self, data: PairedData, batch_size: int, seed: int, device: torch.device,
                 channels_last: bool = False, rank: int = 0, world_size: int = 1, jitter: bool = True,
                 flip: Optional[bool] = None, info: Optional[DataInfo] = None):
        if len(data.a) == 0 or len(data.b) == 0:
            raise GanforgeError(f"Paired data {data.name_a!r} -> {data.name_b!r} holds no pairs; expected at least one.")
        if len(data.a) != len(data.b) or data.a.image_size != data.b.image_size:
            raise GanforgeError(f"Paired data has {len(data.a)} A images of {data.a.image_size} px and {len(data.b)} B images "
                                f"of {data.b.image_size} px; expected as many B as A images, of the same size.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise GanforgeError(f"Batch size {batch_size!r} is invalid; expected a positive integer.")
        self.data, self.batch_size, self.seed, self.device = data, batch_size, seed, device
        self.info = info or DataInfo(data.b.channels, data.b.image_size)
        self.channels_last, self.rank, self.world_size = channels_last, rank, world_size
        self.size = data.a.image_size
        self.split_at = data.a.channels
        self.flip = data.flip if flip is None else flip
        self.load_size = max(self.size, round(self.size * JITTER_SCALE)) if jitter else self.size
        pairs = torch.cat([data.a.images, data.b.images], dim=1)
        if self.load_size != self.size:
            pairs = resize_tensor(pairs, self.load_size)
        self.pairs = pairs.to(device)
        self.labels = data.labels.to(device) if data.labels is not None else None
        self._offsets = torch.arange(self.size, device=device)
        self._start_order(len(data))

    def jitter_params(self, epoch: int, position: int) -> tuple[Tensor, Tensor, Tensor]:
        """(row offsets, column offsets, mirrored) of each pair of batch `position` in `epoch`."""
        key = ((self.seed * 1_000_003 + epoch) * 1_000_033 + position) * 8 + self.rank
        g = torch.Generator().manual_seed(key % (2 ** 63))
        span = self.load_size - self.size + 1
        rows = torch.randint(0, span, (self.batch_size,), generator=g)
        cols = torch.randint(0, span, (self.batch_size,), generator=g)
        mirror = torch.rand(self.batch_size, generator=g) < 0.5
        if not self.flip:
            mirror = torch.zeros_like(mirror)
        return rows, cols, mirror

    def crop(self, pairs: Tensor, rows: Tensor, cols: Tensor, mirror: Tensor) -> Tensor:
        """uint8 (B, C, S, S): each pair cut at its offsets and mirrored where asked, in one gather (NHWC-strided)."""
        d = self._offsets
        r = rows.to(self.device)[:, None] + d  # (B, S)
        c = torch.where(mirror.to(self.device)[:, None], cols.to(self.device)[:, None] + (self.size - 1 - d),
                        cols.to(self.device)[:, None] + d)
        b = torch.arange(pairs.shape[0], device=self.device)[:, None, None]
        return pairs[b, :, r[:, :, None], c[:, None, :]].permute(0, 3, 1, 2)  # (B, S, S, C) -> NCHW view

    def next(self) -> dict[str, Tensor]:
        """The next batch of pairs, with "labels" when the task has them."""
        index = self._next_index()
        params = self.jitter_params(self.epoch, self.position - 1)
        pairs = self.pairs.index_select(0, index)
        if self.load_size != self.size or self.flip:
            pairs = self.crop(pairs, *params)
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        images = to_float(pairs)
        batch = {"a": images[:, :self.split_at].contiguous(memory_format=fmt),
                 "b": images[:, self.split_at:].contiguous(memory_format=fmt)}
        if self.labels is not None:
            batch["labels"] = self.labels.index_select(0, index)
        return batch
