"""A history of generated images shown to a discriminator (Shrivastava et al. 2017; Zhu et al. 2017)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


class ImagePool:
    """Keeps up to `size` past generated images; `query` mixes them into the batch the discriminator sees.

    While the pool is filling, each new image is stored and returned. Once it is full, each new image is,
    with probability 1/2, swapped for a random stored one (which is returned in its place), else returned
    as is. Randomness comes from the global torch RNG, so a seeded (or resumed) run repeats it exactly.
    """

    def __init__(self, size: int = 50):
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.count = 0
        self.images: Optional[Tensor] = None  # (size, C, H, W) storage, allocated on first use

    def __len__(self) -> int:
        return self.count

    @torch.no_grad()
    def query(self, new: Tensor) -> Tensor:
        """The batch to show the discriminator in place of `new` (same shape); updates the pool."""
        new = new.detach()
        if self.size == 0:
            return new
        if self.images is None:
            self.images = torch.empty((self.size, *new.shape[1:]), dtype=new.dtype, device=new.device)
            if new.is_contiguous(memory_format=torch.channels_last) and new.dim() == 4:
                self.images = self.images.contiguous(memory_format=torch.channels_last)
        n = new.shape[0]
        coins = torch.rand(n).tolist()
        slots = torch.randint(0, self.size, (n,)).tolist()
        # Decide every image on the host, then move data with one gather and one scatter.
        holder = {}  # slot -> ("pool", slot) for original contents, ("new", j) once overwritten in this batch
        source = []  # per output: ("pool", slot) or ("new", j)
        for j in range(n):
            if self.count < self.size:
                holder[self.count] = ("new", j)
                self.count += 1
                source.append(("new", j))
            elif coins[j] < 0.5:
                s = slots[j]
                source.append(holder.get(s, ("pool", s)))
                holder[s] = ("new", j)
            else:
                source.append(("new", j))
        out = new
        from_pool = [(i, s) for i, (kind, s) in enumerate(source) if kind == "pool"]
        from_new = [(i, j) for i, (kind, j) in enumerate(source) if kind == "new" and i != j]
        if from_pool or from_new:
            out = new.clone()
            for pairs, bank in ((from_pool, self.images), (from_new, new)):
                if pairs:
                    dst = torch.tensor([i for i, _ in pairs], device=new.device)
                    src = torch.tensor([s for _, s in pairs], device=new.device)
                    out.index_copy_(0, dst, bank.index_select(0, src).to(out.dtype))
        writes = [(s, j) for s, (kind, j) in holder.items() if kind == "new"]
        if writes:
            dst = torch.tensor([s for s, _ in writes], device=new.device)
            src = torch.tensor([j for _, j in writes], device=new.device)
            self.images.index_copy_(0, dst, new.index_select(0, src).to(self.images.dtype))
        return out

    def state_dict(self) -> dict:
        """The stored images (count, C, H, W) as a tensor, for an exact resume."""
        if self.images is None:
            return {"images": torch.empty(0)}
        return {"images": self.images[:self.count].detach().clone()}

    def load_state_dict(self, state: dict, device: Optional[torch.device] = None) -> None:
        """Restore the stored images saved by `state_dict`."""
        stored = state["images"]
        if stored.numel() == 0 or stored.dim() != 4:
            self.images, self.count = None, 0
            return
        if stored.shape[0] > self.size:
            raise ValueError(f"saved pool holds {stored.shape[0]} images, more than its size {self.size}")
        device = device if device is not None else stored.device
        self.images = torch.empty((self.size, *stored.shape[1:]), dtype=stored.dtype, device=device)
        self.images[:stored.shape[0]] = stored.to(device)
        self.count = int(stored.shape[0])
