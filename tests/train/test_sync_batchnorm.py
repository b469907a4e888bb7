"""Global-batch BatchNorm: 2 gloo processes on halves of a batch compute what one process computes on all of it.

Forward outputs, running statistics, input and parameter gradients (averaged as the referee averages them), and
the gradients of an R1-style penalty (a double backward through the all_reduce) are compared with plain torch
BatchNorm on the whole batch.
"""
import copy
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from ganforge.train.distributed import average_gradients
from ganforge.train.sync_batchnorm import GlobalBatchNorm1d, GlobalBatchNorm2d, sync_batchnorm

WORLD, BATCH = 2, 8


def _net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.LeakyReLU(0.2),
                        nn.BatchNorm2d(4, affine=False), nn.Flatten(), nn.Linear(4 * 6 * 6, 5), nn.BatchNorm1d(5), nn.Linear(5, 1))
    for m in net.modules():  # non-trivial affine parameters and running statistics far from 0 / 1
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.fill_(3.0)
    return net


def _inputs() -> torch.Tensor:
    return torch.randn(BATCH, 3, 6, 6, generator=torch.Generator().manual_seed(1)) * 2 + 5


def _grads(net: nn.Module) -> list:
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in net.parameters()]


def _play(net: nn.Module, x: torch.Tensor, sync=lambda params: None) -> dict:
    """Two training passes (a mean loss, then an R1-style penalty), each backward followed by `sync` of the
    gradients (the referee's averaging under a process group), then an eval-mode pass; what they produced."""
    x = x.clone().requires_grad_(True)
    out = net(x)
    out.square().mean().backward()
    sync(list(net.parameters()))
    grads = _grads(net)
    net.zero_grad()
    y = x.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(net(y).sum(), y, create_graph=True)
    g.square().sum((1, 2, 3)).mean().backward()
    sync(list(net.parameters()))
    played = {"out": out.detach(), "x_grad": x.grad, "grads": grads, "penalty_grads": _grads(net),
              "buffers": [b.clone() for b in net.buffers()]}
    net.eval()
    played["eval_out"] = net(x.detach()).detach()  # running statistics, no collective
    return played


def _worker(rank: int, port: int, folder: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=WORLD)
    net = _net()
    assert sync_batchnorm(net) == 3
    half = BATCH // WORLD
    torch.save(_play(net, _inputs()[rank * half:(rank + 1) * half], average_gradients), os.path.join(folder, f"rank{rank}.pt"))
    dist.destroy_process_group()


def _close(a, b, what):
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), f"{what}: max |diff| {float((a - b).abs().max()):.3e}"


def test_two_processes_on_halves_match_one_on_the_whole_batch(tmp_path, free_port):
    mp.spawn(_worker, args=(free_port, str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    ref = _play(_net(), _inputs())
    half = BATCH // WORLD
    for r, got in enumerate(ranks):
        rows = slice(r * half, (r + 1) * half)
        _close(got["out"], ref["out"][rows], "forward output")
        # each rank's own mean loss: its input gradient is WORLD × that of the global mean
        _close(got["x_grad"], ref["x_grad"][rows] * WORLD, "input gradient")
        for name in ("grads", "penalty_grads"):
            for a, b in zip(got[name], ref[name]):
                _close(a, b, name)
        for a, b in zip(got["buffers"], ref["buffers"]):
            _close(a.float(), b.float(), "running statistics")
        _close(got["eval_out"], ref["eval_out"][rows], "eval-mode output")
    # per-process statistics (the unsynced way) are measurably different: the test above can fail
    alone = _play(_net(), _inputs()[:half])
    assert not torch.allclose(alone["out"], ref["out"][:half], atol=1e-3)


def test_without_a_process_group_it_is_plain_batchnorm():
    plain, synced = _net(), _net()
    assert sync_batchnorm(synced) == 3
    assert isinstance(synced[1], GlobalBatchNorm2d) and isinstance(synced[1], nn.BatchNorm2d)
    assert isinstance(synced[6], GlobalBatchNorm1d)
    assert list(plain.state_dict()) == list(synced.state_dict())
    a, b = _play(plain, _inputs()), _play(synced, _inputs())
    assert torch.equal(a["out"], b["out"]) and all(torch.equal(p, q) for p, q in zip(a["grads"], b["grads"]))


def test_conversion_keeps_parameters_and_deep_copies():
    net = _net()
    params = [id(p) for p in net.parameters()]
    sync_batchnorm(net)
    assert [id(p) for p in net.parameters()] == params  # optimizers built before the conversion still see them
    assert isinstance(copy.deepcopy(net)[1], GlobalBatchNorm2d)
    assert sync_batchnorm(nn.Sequential(nn.Linear(2, 2))) == 0
