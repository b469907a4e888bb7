"""Random batches from an in-memory dataset, reproducible and resumable to the exact batch."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from ganforge.contract import DataInfo
from ganforge.data.dataset import ImageDataset, to_float
from ganforge.errors import GanforgeError


class ShuffledOrder:
    """Batch indices shuffled epoch by epoch, without replacement within an epoch, sharded by rank.

    Each epoch's order is a fixed function of (seed, epoch), so the state is two integers. A source
    sets `seed`, `batch_size`, `rank`, `world_size` and `device`, then calls `_start_order(n)`.
    """

    def _start_order(self, n: int) -> None:
        self._count = n
        self.epoch, self.position = 0, 0
        self._order = self._epoch_order(0)

    @property
    def steps_per_epoch(self) -> int:
        """Batches per pass over the data (per process)."""
        return max(1, self._count // (self.batch_size * self.world_size))

    def _epoch_order(self, epoch: int) -> Tensor:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        usable = self.steps_per_epoch * self.batch_size * self.world_size
        # A dataset smaller than one global batch is repeated, each pass in its own random order.
        passes = -(-usable // self._count)
        order = torch.cat([torch.randperm(self._count, generator=g) for _ in range(passes)])
        return order[:usable].view(-1, self.world_size, self.batch_size)[:, self.rank].to(self.device)

    def _next_index(self) -> Tensor:
        """The indices of the next batch; the position then points past it."""
        if self.position >= self._order.shape[0]:
            self.epoch += 1
            self.position = 0
            self._order = self._epoch_order(self.epoch)
        index = self._order[self.position]
        self.position += 1
        return index

    def state_dict(self) -> dict:
        """Where in the data stream this source stands."""
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        """Continue from a saved position."""
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._epoch_order(self.epoch)


class BatchSource(ShuffledOrder):
    """Draws shuffled batches (without replacement within an epoch) from a dataset kept on the device.

    Each epoch's order is a fixed function of (seed, epoch), so the state is two integers.
    Images stay uint8 on the device and are scaled to [-1, 1] per batch.
    """

    def __init__(self, dataset: ImageDataset, batch_size: int, seed: int, device: torch.device,
                 channels_last: bool = False, rank: int = 0, world_size: int = 1, info: Optional[DataInfo] = None):
        if len(dataset) == 0:
            raise GanforgeError(f"Dataset {dataset.name!r} holds no images; expected at least one.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise GanforgeError(f"Batch size {batch_size!r} is invalid; expected a positive integer.")
        if not 0 <= rank < world_size:
            raise GanforgeError(f"Rank {rank!r} is invalid for world size {world_size!r}; expected 0 <= rank < world size.")
        self.dataset = dataset
        self.info = info or DataInfo(dataset.channels, dataset.image_size, dataset.num_classes, tuple(dataset.class_names))
        self.batch_size = batch_size
        self.seed = seed
        self.device = device
        self.channels_last = channels_last
        self.rank, self.world_size = rank, world_size
        self.images = dataset.images.to(device)
        self.labels = dataset.labels.to(device) if dataset.labels is not None else None
        self._start_order(len(dataset))

    def next(self) -> dict[str, Tensor]:
        """The next batch: {"images": float [-1, 1] (B, C, H, W), "labels": int64 (B,) if labelled}."""
        index = self._next_index()
        images = to_float(self.images.index_select(0, index))
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        batch = {"images": images}
        if self.labels is not None:
            batch["labels"] = self.labels.index_select(0, index)
        return batch
