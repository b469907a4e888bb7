"""Two CPU processes (gloo) train one run: gradients are averaged, so players stay identical.

Also: 2 processes at batch B/2 follow 1 process at batch B (each rank reads its half of every global batch from a
prepared set on disk; BatchNorm normalises by the global batch), and a resumed 2-process run continues as if never stopped.
"""
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ganforge.atomic import write_text_atomic
from ganforge.config import TrainConfig
from ganforge.data.prepared import HEADER, IMAGES, PreparedHeader

BATCH = {"dcgan": 16, "stylegan": 8}  # the global batch


def _write_prepared(folder, n=48, size=8):
    rng = np.random.default_rng(3)
    folder.mkdir(parents=True)
    rng.integers(0, 256, (n, 1, size, size), dtype=np.uint8).tofile(folder / IMAGES)
    header = PreparedHeader(count=n, channels=1, size=size, files=[f"{i}.png" for i in range(n)], complete=True, next_file=n, rows=n)
    write_text_atomic(folder / HEADER, header.to_json())


def _config(model, out, name, batch, steps=3, **kw):
    from ganforge.train.run_dir import resolve_defaults

    options = {"width": 4, "z_dim": 8} if model == "dcgan" else {
        "z_dim": 8, "w_dim": 8, "mapping_layers": 2, "channel_base": 32, "channel_max": 8, "growth": False,
        "style_mixing": 0.0, "noise": False, "mbstd_group": 1, "r1_interval": 2}
    return resolve_defaults(TrainConfig(model=model, data=os.path.join(out, "data"), image_size=8, steps=steps, batch_size=batch,
                                        device="cpu", precision="fp32", name=name, out=out, memory_budget_gb=1e-9,
                                        checkpoint_every=2, log_every=1, options=options, **kw))


class _GlobalNoise:
    """z for the global batch from one stream, sliced by rank: what 1 process at B draws, 2 at B/2 split.

    The games draw z per process from per-rank seeds (so ranks differ, as they must); this stands in
    for that draw only so that the comparison with one process can be exact.
    """

    def __init__(self, seed, rank, world):
        self.g, self.rank, self.world = torch.Generator().manual_seed(seed), rank, world

    def __call__(self, n, dim):
        return torch.randn(n * self.world, dim, generator=self.g)[self.rank * n:(self.rank + 1) * n]


def _patched_noise(rank, world):
    """Patch the DCGAN and StyleGAN games to draw global-batch noise (StyleGAN without mixing or noise inputs)."""
    from ganforge.games.adversarial import AdversarialGame
    from ganforge.games.stylegan import StyleGANGame

    noise = _GlobalNoise(123, rank, world)

    def fake_images(self, n, labels, update_w_avg=False):
        assert self.options.style_mixing == 0 and not self.options.noise
        G = self.generator
        return G.synthesize(G.mapping(noise(n, G.z_dim), labels, update_w_avg=update_w_avg), self.level, self.alpha, "random")

    saved = (AdversarialGame._noise, StyleGANGame.fake_images)
    AdversarialGame._noise = lambda self, n: noise(n, self.generator.z_dim)
    StyleGANGame.fake_images = fake_images
    return lambda: (setattr(AdversarialGame, "_noise", saved[0]), setattr(StyleGANGame, "fake_images", saved[1]))


def _train(cfg, checkpoint=None):
    """Play a run; return (flat parameters of all players, the trainer)."""
    from ganforge.train.loop import Trainer

    os.makedirs(os.path.join(cfg.out, cfg.name), exist_ok=True)
    trainer = Trainer(cfg, os.path.join(cfg.out, cfg.name), checkpoint=checkpoint)
    start = torch.cat([p.detach().flatten().clone() for m in trainer.game.players.values() for p in m.parameters()])
    trainer.run()
    end = torch.cat([p.detach().flatten() for m in trainer.game.players.values() for p in m.parameters()])
    trainer.source.close()
    return start, end, trainer


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from ganforge.data.prepared import PreparedSource
    from ganforge.train.checkpoint import Checkpoints
    from ganforge.train.distributed import leave_process_group

    results = {}
    restore = _patched_noise(rank, world)
    for model in ("dcgan", "stylegan"):
        _, end, trainer = _train(_config(model, out, f"{model}-ddp", BATCH[model] // world))
        assert isinstance(trainer.source, PreparedSource) and trainer.source.world_size == world and trainer.source.batch_size == BATCH[model] // world
        results[model] = end
    _, results["dcgan-own-bn"], _ = _train(_config("dcgan", out, "dcgan-own-bn", BATCH["dcgan"] // world, sync_batchnorm=False))
    restore()
    # a 2-process run of 4 steps, and the same stopped after 2 and resumed to 4 (the real, per-rank noise)
    _, results["straight"], _ = _train(_config("dcgan", out, "straight", 8 // world, steps=4))
    _train(_config("dcgan", out, "stopped", 8 // world, steps=2))
    dist.barrier()  # rank 0 has written the checkpoint
    run_dir = os.path.join(out, "stopped")
    _, results["resumed"], trainer = _train(_config("dcgan", out, "stopped", 8 // world, steps=4), Checkpoints(run_dir).latest())
    assert trainer.step == 4
    torch.save(results, os.path.join(out, f"rank{rank}.pt"))
    leave_process_group()


def _distance(a_start, a_end, b_end):
    """|Δa − Δb| / |Δa| for updates Δ = end − start from the same start."""
    return float((a_end - b_end).norm() / (a_end - a_start).norm())


def test_two_processes_match_one_at_twice_the_batch_and_resume_exactly(tmp_path, free_port):
    out = str(tmp_path)
    _write_prepared(tmp_path / "data")
    mp.spawn(_worker, args=(2, free_port, out), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in (0, 1)]
    for key in ("dcgan", "stylegan", "dcgan-own-bn", "straight", "resumed"):
        assert torch.equal(ranks[0][key], ranks[1][key]), key  # gradients averaged: the ranks stay identical
    restore = _patched_noise(0, 1)
    try:
        one = {m: _train(_config(m, out, f"{m}-one", BATCH[m])) for m in ("dcgan", "stylegan")}
        half = {m: _train(_config(m, out, f"{m}-half", BATCH[m] // 2))[1] for m in ("dcgan", "stylegan")}  # what one rank alone learns
    finally:
        restore()
    # StyleGAN (no BatchNorm; minibatch-stddev groups of 1, no mixing or noise inputs): the same sums, regrouped in float32.
    start, end, _ = one["stylegan"]
    ddp, alone = _distance(start, end, ranks[0]["stylegan"]), _distance(start, end, half["stylegan"])
    print(f"StyleGAN: 2 processes vs 1 at batch {BATCH['stylegan']}: {ddp:.2e}; one rank's half alone: {alone:.2e}")
    assert ddp < 1e-4, ddp
    assert alone > 0.05, alone  # a rank that ignored the other's half would be far off
    # DCGAN (BatchNorm in both players, R1 through D): sync_batchnorm (the default) normalises by the global batch's
    # statistics, so 2 processes follow 1 process at B just as closely.
    start, end, _ = one["dcgan"]
    ddp, alone = _distance(start, end, ranks[0]["dcgan"]), _distance(start, end, half["dcgan"])
    print(f"DCGAN: 2 processes vs 1 at batch {BATCH['dcgan']}: {ddp:.2e}; one rank's half alone: {alone:.2e}")
    assert ddp < 1e-4, ddp
    assert alone > 0.05, alone
    # with sync_batchnorm off, each process normalises by its own B/2 images: measurably different
    ddp_own = _distance(start, end, ranks[0]["dcgan-own-bn"])
    print(f"DCGAN with per-process BatchNorm: {ddp_own:.2e}")
    assert ddp_own > 100 * max(ddp, 1e-7), ddp_own
    # resumed after 2 of 4 steps: bit for bit the run that was never stopped, on both ranks
    assert torch.equal(ranks[0]["resumed"], ranks[0]["straight"])
    assert (tmp_path / "stopped" / "checkpoints" / "latest").read_text() == "step_00000004"


def test_torchrun_launches_one_run_from_the_command_line(tmp_path):
    import subprocess
    import sys

    _write_prepared(tmp_path / "data")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "ganforge", "train",
               "--data", str(tmp_path / "data"), "--image-size", "8", "--steps", "2", "--batch-size", "4", "--device", "cpu",
               "--out", str(tmp_path / "runs"), "--option", "width=4", "--option", "z_dim=8", "--no-progress",
               "--set", "memory_budget_gb=1e-9"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = list((tmp_path / "runs").iterdir())  # rank 0 made the one folder (and its name) for both processes
    assert len(runs) == 1 and (runs[0] / "checkpoints" / "latest").read_text() == "step_00000002"
    assert done.stdout.count(f"run saved in {runs[0]}") == 2


def test_a_finished_run_leaves_its_process_group(tmp_path, free_port, monkeypatch):
    import argparse

    from ganforge.train import api, command
    from ganforge.train.distributed import leave_process_group

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port}", rank=0, world_size=1)
    left = []

    def fake_train(cfg, resume=None, progress=True):
        assert dist.is_initialized()  # the group lives through the whole run
        (tmp_path / "metrics.jsonl").write_text("")
        return tmp_path

    monkeypatch.setattr(api, "train", fake_train)
    monkeypatch.setattr(command, "config_from_args", lambda args: TrainConfig(data="mnist"))
    monkeypatch.setattr("ganforge.train.run_dir.fill_from_data", lambda cfg: (cfg, ""))
    monkeypatch.setattr("ganforge.train.distributed.leave_process_group", lambda: (left.append(True), leave_process_group()))
    assert command.run(argparse.Namespace(resume=None, no_progress=True)) == 0
    assert left == [True] and not dist.is_initialized()
    leave_process_group()  # alone, or once left: nothing to do
