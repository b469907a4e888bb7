"""Two CPU processes (gloo) train one run: gradients are averaged, so players stay identical."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ganforge.config import TrainConfig


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from ganforge.train.loop import Trainer
    from ganforge.train.run_dir import resolve_defaults

    cfg = resolve_defaults(TrainConfig(model="dcgan", steps=3, batch_size=8, device="cpu", name="ddp", out=out,
                                       options={"width": 4, "z_dim": 8}))
    run_dir = os.path.join(out, "ddp")
    trainer = Trainer(cfg, run_dir)
    trainer.run()
    weights = torch.cat([p.detach().flatten() for p in trainer.game.generator.parameters()])
    torch.save(weights, os.path.join(out, f"rank{rank}.pt"))
    assert trainer.source.world_size == world
    dist.destroy_process_group()


def test_two_processes_stay_in_sync(tmp_path):
    (tmp_path / "ddp").mkdir()
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    w0, w1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert torch.equal(w0, w1)
    assert (tmp_path / "ddp" / "checkpoints" / "latest").is_file()
