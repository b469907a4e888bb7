"""A folder of small smooth colour photos (random 4×-downsized noise upscaled bicubic) for super-resolution tests."""
import numpy as np
from PIL import Image


def write_photos(root, n=5, size=(48, 40)):
    """`n` PNGs of `size` (width, height) in `root`, seeded by their index; returns `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        base = np.random.default_rng(i).integers(0, 256, (size[1] // 4, size[0] // 4, 3), dtype=np.uint8)
        Image.fromarray(base).resize(size, Image.BICUBIC).save(root / f"{i:02d}.png")
    return root
