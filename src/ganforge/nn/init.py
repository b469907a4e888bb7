"""The N(0, 0.02) initialisation of the DCGAN, pix2pix and CycleGAN papers, in one place."""
from __future__ import annotations

from torch import nn

NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)


def normal_init(module: nn.Module, std: float = 0.02, unit_norm_scales: bool = False) -> None:
    """Convolution and linear weights from N(0, std²) and zero biases; affine norm scales from N(1, std²)
    (exactly 1 with `unit_norm_scales`, CycleGAN's choice) and zero shifts."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, NORMS) and m.weight is not None:
            if unit_norm_scales:
                nn.init.ones_(m.weight)
            else:
                nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
