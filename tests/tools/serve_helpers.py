"""Small exported models of every kind the page shows, and a fake run folder, for the serve tests."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.export import save_players


def stylegan_model(folder: Path, num_classes: int = 0) -> Path:
    """A random tiny 32 px StyleGAN generator, exported."""
    from ganforge.models.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    g = StyleGANGenerator(z_dim=32, w_dim=32, image_size=32, num_classes=num_classes, mapping_layers=2, channel_max=16).eval()
    with torch.no_grad():  # noise weights start at zero: give them a voice so noise maps matter
        for m in g.modules():
            if hasattr(m, "noise_const"):
                m.weight.fill_(0.1)
    info = {"family": "stylegan", "channels": 1, "image_size": 32, "num_classes": num_classes, "class_names": []}
    return save_players({"generator": g}, info, folder)


def digit_model(folder: Path, steps: int = 80) -> Path:
    """A conditional generator fitted (by regression) to draw class c as one held-out MNIST digit c the shipped classifier reads as c."""
    from ganforge.data import load_dataset
    from ganforge.data.dataset import to_float
    from ganforge.metrics.digit_classifier import classify
    from ganforge.models.cgan import ConditionalVanillaGenerator

    data = load_dataset("mnist", image_size=28, split="test")
    images, labels = to_float(data.images[:500]), data.labels[:500]
    read = classify(images)
    exemplars = torch.stack([images[((labels == c) & (read == c)).nonzero()[0, 0]] for c in range(10)])
    torch.manual_seed(0)
    g = ConditionalVanillaGenerator(z_dim=8, image_size=28, widths=(64, 128), num_classes=10)
    opt = torch.optim.Adam(g.parameters(), lr=3e-3)
    for _ in range(steps):
        c = torch.arange(32) % 10
        loss = (g(torch.randn(32, 8), c) - exemplars[c]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    info = {"family": "cgan", "channels": 1, "image_size": 28, "num_classes": 10, "class_names": [str(c) for c in range(10)]}
    return save_players({"generator": g.eval()}, info, folder)


def cyclegan_model(folder: Path) -> Path:
    """Two random tiny CycleGAN translators, exported as training exports them."""
    from ganforge.models.cyclegan import ResnetGenerator

    torch.manual_seed(0)
    a2b, b2a = (ResnetGenerator(channels=1, width=8, n_res_blocks=1, n_down=2).eval() for _ in range(2))
    info = {"family": "cyclegan", "kind": "translation", "channels": 1, "image_size": 32, "num_classes": 0,
            "domains": ["A", "B"], "directions": {"a2b": "generator", "b2a": "generator_b2a"}, "size_multiple": 4}
    return save_players({"generator": a2b, "generator_b2a": b2a}, info, folder)


def vae_model(folder: Path) -> Path:
    """A random tiny VAE (decoder as "generator", and its encoder), exported."""
    from ganforge.models.vae import Decoder, Encoder

    torch.manual_seed(0)
    info = {"family": "vae", "channels": 1, "image_size": 32, "num_classes": 0}
    return save_players({"generator": Decoder(z_dim=8, image_size=32, width=8).eval(),
                         "encoder": Encoder(z_dim=8, image_size=32, width=8).eval()}, info, folder)


def fake_run(folder: Path, steps: int = 120) -> Path:
    """A run folder as a training in progress leaves it: config, metrics, one sample grid and an eval."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(f"model: dcgan\nsteps: {steps * 2}\n")
    with open(folder / "metrics.jsonl", "w") as f:
        for s in range(1, steps + 1):
            f.write(json.dumps({"step": s, "loss_d": 1.0 + 0.1 * np.sin(s), "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4}) + "\n")
        f.write(json.dumps({"event": "eval", "step": steps, "fd": 12.5}) + "\n")
    (folder / "samples").mkdir(exist_ok=True)
    Image.fromarray(np.full((36, 36), 128, np.uint8)).save(folder / "samples" / f"step_{steps:08d}.png")
    return folder


def append_steps(folder: Path, start: int, stop: int) -> None:
    """More training records, as a live run appends them."""
    with open(folder / "metrics.jsonl", "a") as f:
        for s in range(start, stop + 1):
            f.write(json.dumps({"step": s, "loss_d": 1.0, "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4}) + "\n")


def digit_png(path: Path, digit: int = 3, size: int = 32) -> Path:
    """A held-out MNIST digit written as a PNG."""
    from ganforge.data import load_dataset

    data = load_dataset("mnist", image_size=size, split="test")
    index = int((data.labels == digit).nonzero()[0])
    Image.fromarray(data.images[index, 0].numpy()).save(path)
    return path


def load_helpers():
    """This module (for test files, which import it by path)."""
    import sys

    return sys.modules[__name__]
