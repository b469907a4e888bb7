"""The StyleGAN mapping network f: z (and an optional class c) -> w (Karras et al. 2019)."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.nn.equalized import EqualLinear, pixel_norm


class MappingNetwork(nn.Module):
    """An MLP of equalized-lr layers with a learning-rate multiplier, from normalized z to w.

    Conditional networks embed the one-hot class, normalize it and concatenate it to z (as in
    Karras et al. 2020a, StyleGAN2-ADA).  The output is broadcast to `num_ws` rows, one per style
    input of the synthesis network.  `w_avg` tracks the moving average of w seen in training and is
    the centre of the truncation trick.
    """

    def __init__(self, z_dim: int, w_dim: int, num_ws: int, num_classes: int = 0, layers: int = 8,
                 lr_mul: float = 0.01, w_avg_beta: float = 0.995):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.num_classes = z_dim, w_dim, num_ws, num_classes
        self.w_avg_beta = w_avg_beta
        self.embed = EqualLinear(num_classes, w_dim) if num_classes > 0 else None
        width = z_dim + (w_dim if num_classes > 0 else 0)
        self.layers = nn.ModuleList(
            EqualLinear(width if i == 0 else w_dim, w_dim, lr_mul=lr_mul, activate=True) for i in range(layers))
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, c: Optional[Tensor] = None, truncation: float = 1.0,
                update_w_avg: bool = False) -> Tensor:
        """Per-layer styles w of shape (N, num_ws, w_dim); ψ = `truncation` pulls them towards w_avg."""
        x = pixel_norm(z.float())
        if self.embed is not None:
            if c is None:
                raise ValueError("this mapping network is conditional; expected class labels c")
            onehot = F.one_hot(c.long(), self.num_classes).to(x.dtype) if c.dim() == 1 else c.to(x.dtype)
            x = torch.cat([x, pixel_norm(self.embed(onehot))], dim=1)
        for layer in self.layers:
            x = layer(x)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        if truncation != 1.0:
            x = self.w_avg.to(x.dtype).lerp(x, truncation)
        return x.unsqueeze(1).expand(-1, self.num_ws, -1)
