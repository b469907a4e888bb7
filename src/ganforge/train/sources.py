"""The default batch source: a labelled (or unlabelled) image dataset in memory, or a prepared one read from disk."""
from __future__ import annotations

from typing import Any, Union

from ganforge.config import TrainConfig
from ganforge.contract import Runtime
from ganforge.data.batches import BatchSource
from ganforge.data.prepared import PreparedSource


def image_source(cfg: TrainConfig, options: Any, runtime: Runtime) -> Union[BatchSource, PreparedSource]:
    """A batch source over `cfg.data` at the configured size, with `.info` describing it (`options` are not read).

    In memory (BatchSource) when the images fit `cfg.memory_budget_gb`; a prepared set larger than
    that is read batch by batch (PreparedSource), and a plain folder larger than that is refused with
    the `ganforge prepare` command to run.
    """
    from ganforge.data import load_dataset, memory_budget_bytes, open_prepared, prepared_path

    budget = memory_budget_bytes(cfg.memory_budget_gb)
    prepared = prepared_path(cfg.data)
    if prepared is not None:
        data = open_prepared(prepared)
        data.check_request(cfg.image_size, cfg.channels)
        if data.nbytes > budget:
            return PreparedSource(data, cfg.batch_size, cfg.seed, runtime.device, runtime.channels_last,
                                  runtime.rank, runtime.world_size)
        with data:
            dataset = data.load()
    else:
        dataset = load_dataset(cfg.data, image_size=cfg.image_size, channels=cfg.channels, memory_budget=budget)
    return BatchSource(dataset, cfg.batch_size, cfg.seed, runtime.device, runtime.channels_last,
                       runtime.rank, runtime.world_size)
