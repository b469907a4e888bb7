"""The default batch source: a labelled (or unlabelled) image dataset in memory."""
from __future__ import annotations

from ganforge.config import TrainConfig
from ganforge.contract import DataInfo, Runtime
from ganforge.data.batches import BatchSource


def image_source(cfg: TrainConfig, runtime: Runtime) -> BatchSource:
    """A BatchSource over `cfg.data` at the configured size, with `.info` describing it."""
    from ganforge.data import load_dataset

    dataset = load_dataset(cfg.data, image_size=cfg.image_size, channels=cfg.channels)
    source = BatchSource(dataset, cfg.batch_size, cfg.seed, runtime.device, runtime.channels_last,
                         runtime.rank, runtime.world_size)
    source.info = DataInfo(dataset.channels, dataset.image_size, dataset.num_classes, tuple(dataset.class_names))
    return source
