"""Where a training round's time goes on this CPU: torch.profiler's op times sorted into categories.

A round's ops are sorted by name and by the op or autograd node they run under: convolutions forward and
backward, BatchNorm forward and backward, other matmuls, augmentation (the bgc pipeline forward, and the
backward of its grid sampling), the optimizers, host syncs (`.item()`, `.tolist()`), and all other ops
(elementwise, losses, noise). "Python and dispatch" is what the profiled round's wall clock holds beyond its
ops. R1 is measured by difference: a round whose D step evaluates R1 and one whose does not are profiled
alike, and an average round of a lazy interval k holds the plain round plus 1/k of the excess, shown as
its own row ("R1's double backward", the penalty's first backward and the second one through it).

`top_ops` lists the ops with the most self CPU time, by name. Used by `python benchmarks/speed.py --profile`.
"""
from __future__ import annotations

import contextlib
import time

from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

CATEGORIES = ("convolution forward", "convolution backward", "BatchNorm", "other matmuls", "augmentation", "optimizer",
              "host syncs", "other ops", "Python and dispatch")
R1_ROW = "R1's double backward"
AUGMENT_SCOPE = "ganforge.augment"
TOP_OPS = 12  #: ops listed per case, by self CPU time


def category(names: list[str]) -> str:
    """The category of an op from its own name and those of the ops and autograd nodes it runs under (innermost first)."""
    leaf = names[0].lower()
    scope = " ".join(names).lower()
    if "optimizer." in scope:
        return "optimizer"
    if AUGMENT_SCOPE in scope or "gridsampler" in scope or "grid_sampler" in scope or "affinegrid" in scope:
        return "augmentation"
    if leaf in ("aten::item", "aten::_local_scalar_dense"):
        return "host syncs"
    if "batch_norm" in scope or "batchnorm" in scope:
        return "BatchNorm"
    if "convolution_backward" in scope or "convolutionbackward" in scope:
        return "convolution backward"
    if "conv" in leaf:
        return "convolution forward"
    if any(op in leaf for op in ("addmm", "aten::mm", "bmm", "matmul", "linear")):
        return "other matmuls"
    return "other ops"


def categorise(prof) -> dict[str, float]:
    """Seconds of self CPU time per category over the profiled events (main thread's view)."""
    seconds = dict.fromkeys(CATEGORIES, 0.0)
    for event in prof.events():
        names, node = [], event
        while node is not None:
            names.append(node.name)
            node = node.cpu_parent
        seconds[category(names)] += event.self_cpu_time_total / 1e6
    return seconds


@contextlib.contextmanager
def forced_penalties(game, due: bool):
    """Every D step of the block evaluates the game's lazy penalties (`due`) or none of them."""
    penalties = game.penalties
    object.__setattr__(penalties, "lazy_due", lambda d_step: due)
    try:
        yield
    finally:
        object.__delattr__(penalties, "lazy_due")


@contextlib.contextmanager
def augment_scope():
    """The bgc pipeline's forward ops under one named range."""
    from ganforge.nn.augment import Augmenter

    call = Augmenter.__call__

    def scoped(self, x):
        with record_function(AUGMENT_SCOPE):
            return call(self, x)

    Augmenter.__call__ = scoped
    try:
        yield
    finally:
        Augmenter.__call__ = call


def top_ops(prof, rounds: int, n: int = TOP_OPS) -> list[dict]:
    """The `n` ops with the most self CPU time: name, milliseconds and calls per round, share of all ops' time."""
    averages = [e for e in prof.key_averages() if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in averages) or 1.0
    averages.sort(key=lambda e: -e.self_cpu_time_total)
    return [{"op": e.key, "ms_per_round": e.self_cpu_time_total / 1e3 / rounds, "calls_per_round": e.count / rounds,
             "share": e.self_cpu_time_total / total} for e in averages[:n]]


def profile_rounds(play, rounds: int) -> tuple[dict[str, float], float, list[dict]]:
    """(seconds per category per round, profiled wall seconds per round, `top_ops`) of `rounds` calls of `play`."""
    with augment_scope(), profile(activities=[ProfilerActivity.CPU]) as prof:
        start = time.perf_counter()
        for _ in range(rounds):
            play()
        wall = time.perf_counter() - start
    seconds = categorise(prof)
    seconds["Python and dispatch"] = max(0.0, wall - sum(seconds.values()))
    return {k: v / rounds for k, v in seconds.items()}, wall / rounds, top_ops(prof, rounds)


def timed(play, rounds: int) -> float:
    """Median seconds of one call of `play` over `rounds` calls (no profiler)."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        play()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


class _Flops(TorchDispatchMode):
    """Sums torch.utils.flop_counter's per-op FLOPs without its module hooks (which refuse R1's autograd.grad)."""

    def __init__(self):
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count = flop_registry.get(func._overloadpacket)
        if count is not None:
            self.total += count(*args, **kwargs, out_val=out)
        return out


def round_flops(play) -> float:
    """FLOPs of one call of `play` (torch.utils.flop_counter's counts: convolutions and matmuls, forward and backward)."""
    with _Flops() as counter:
        play()
    return float(counter.total)


def profile_case(game, runtime, data, round_once, rounds: int, data_seconds: float = 0.0) -> dict:
    """Shares of an average round of `game` (over its lazy R1 interval), its seconds and FLOPs."""
    penalised = game.penalties.r1_gamma > 0 or game.penalties.r2_gamma > 0
    k = game.penalties.interval if penalised else 1

    def play():
        round_once(game, runtime, data)

    parts = {}
    for name, due in (("plain", False), ("r1", True)) if penalised else (("plain", False),):
        with forced_penalties(game, due):
            play()  # warm
            per_category, profiled, ops = profile_rounds(play, rounds)
            parts[name] = {"categories": per_category, "profiled_s": profiled, "round_s": timed(play, rounds + 2),
                           "flops": round_flops(play), "ops": ops}
    plain = parts["plain"]
    rows = dict(plain["categories"])
    round_s, flops, profiled_s = plain["round_s"], plain["flops"], plain["profiled_s"]
    if penalised:
        r1 = parts["r1"]
        rows[R1_ROW] = (r1["profiled_s"] - plain["profiled_s"]) / k
        round_s += (r1["round_s"] - plain["round_s"]) / k
        flops += (r1["flops"] - plain["flops"]) / k
        profiled_s += rows[R1_ROW]
    rows["data"] = data_seconds
    total = sum(rows.values())
    return {"interval": k, "round_s": round_s + data_seconds, "profiled_round_s": profiled_s + data_seconds,
            "flops_per_round": flops, "seconds": rows, "shares": {c: v / total for c, v in rows.items()},
            "top_ops": plain["ops"]}


def data_seconds(cfg_settings: dict, rounds_batches: int, batches: int = 200) -> float:
    """Seconds per round that the run's data source takes to hand out `rounds_batches` batches (the embedded
    MNIST of the default run), averaged over `batches` batches."""
    from ganforge.config import TrainConfig, resolve_options
    from ganforge.games.registry import get_family
    from ganforge.train.run_dir import resolve_defaults
    from ganforge.train.runtime import make_runtime
    from ganforge.train.sources import image_source

    cfg = resolve_defaults(TrainConfig(**cfg_settings))
    family = get_family(cfg.model)
    source = image_source(cfg, resolve_options(family.options, cfg.options, cfg.model), make_runtime(cfg))
    source.next()
    start = time.perf_counter()
    for _ in range(batches):
        source.next()
    return (time.perf_counter() - start) / batches * rounds_batches


def markdown(results: list[dict], peak_bf16: float) -> str:
    """One column per case: each category's share, then round seconds, GFLOP per round and fraction of the bf16 peak."""
    rows = list(CATEGORIES) + [R1_ROW, "data"]
    lines = ["| share of a round | " + " | ".join(r["case"] for r in results) + " |", "|---|" + "---|" * len(results)]
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(f"{100 * r['shares'].get(row, 0.0):.1f} %" for r in results) + " |")
    lines.append("| seconds per round (no profiler) | " + " | ".join(f"{r['round_s']:.3f}" for r in results) + " |")
    lines.append("| GFLOP per round | " + " | ".join(f"{r['flops_per_round'] / 1e9:.1f}" for r in results) + " |")
    lines.append("| achieved GFLOP/s (share of the bf16 matmul peak) | " + " | ".join(
        f"{r['flops_per_round'] / r['round_s'] / 1e9:.0f} ({100 * r['flops_per_round'] / r['round_s'] / peak_bf16:.0f} %)"
        for r in results) + " |")
    return "\n".join(lines)


def ops_markdown(result: dict) -> str:
    """A case's `top_ops` (the plain round's, without R1) as a table."""
    lines = [f"| {result['case']}: op | ms per round | calls per round | share of ops' time |", "|---|---|---|---|"]
    lines += [f"| `{o['op']}` | {o['ms_per_round']:.2f} | {o['calls_per_round']:g} | {100 * o['share']:.1f} % |"
              for o in result["top_ops"]]
    return "\n".join(lines)
