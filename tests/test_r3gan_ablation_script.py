"""benchmarks/r3gan_ablation.py: the live generator of a run's last checkpoint, and the tables over seeds."""
import sys
from pathlib import Path

import pytest
import torch

from ganforge.config import TrainConfig
from ganforge.export import load_generator
from ganforge.train.api import train
from ganforge.train.checkpoint import Checkpoints, read_training_state

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import r3gan_ablation  # noqa: E402


def tiny_run(tmp_path, **kw):
    options = {"z_dim": 8, "widths": [16, 8], "blocks": 1, "group_width": 8, "gamma": 0.05, "ema_half_life": 64}
    cfg = TrainConfig(model="r3gan", data="stacked-mnist", image_size=8, steps=4, batch_size=8, out=str(tmp_path), name="r",
                      log_every=1, sample_every=4, checkpoint_every=4, copy_check_n=0, options=options, **kw)
    return train(cfg, progress=False)


def test_live_generator_holds_the_checkpoint_weights_not_the_ema(tmp_path, one_thread):
    run = tiny_run(tmp_path)
    live = r3gan_ablation.live_generator(run)
    ema, _ = load_generator(run)
    saved = read_training_state(Checkpoints(run).latest())["game"]["players"]["generator"]
    for name, value in live.state_dict().items():
        assert torch.equal(value, saved[name]), name
    assert any(not torch.equal(value, ema.state_dict()[name]) for name, value in live.state_dict().items())
    assert not live.training
    assert live(torch.randn(2, 8)).shape == (2, 3, 8, 8)


def test_live_generator_of_a_run_without_checkpoint_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        r3gan_ablation.live_generator(tmp_path)


def _run(row, seed, modes, kl, live=None, gamma=0.05):
    final = None if modes is None else {"modes": modes, "reverse_kl": kl}
    return {"row": row, "label": r3gan_ablation.ROWS[row].label, "seed": seed, "final": final, "final_live": live,
            "diverged": None if final else "non-finite", "options": {"gamma": gamma}}


def test_table_gives_mean_and_spread_over_seeds_and_each_seed():
    results = {"runs": [_run("gan-r1", 0, 255, 3.48), _run("gan-r1", 1, 245, 3.50), _run("rpgan-r1", 0, 101, 6.42),
                        _run("rpgan-r1", 1, None, None)]}
    lines = r3gan_ablation.table(results).splitlines()
    assert lines[2] == "| GAN + R1 | 250 ± 7 | 3.49 ± 0.01 | s0: 255 / 3.48, s1: 245 / 3.50 | 0 of 2 | diverges |"
    assert lines[3] == "| RpGAN + R1 | 101 | 6.42 | s0: 101 / 6.42, s1: stopped | 1 of 2 | diverges |"
    assert len(lines) == 4


def test_live_table_lists_only_runs_counted_both_ways():
    results = {"runs": [_run("gan-r1-r2", 1, 256, 3.49, {"modes": 300, "reverse_kl": 3.1}, gamma=0.5),
                        _run("rpgan-r1-r2", 1, 96, 6.48)]}
    lines = r3gan_ablation.live_table(results).splitlines()
    assert lines[2:] == ["| GAN + R1 + R2 | 1 | 0.5 | 256 / 3.49 | 300 / 3.10 |"]
    assert r3gan_ablation.live_table({"runs": [_run("gan-r1", 0, 255, 3.48)]}) == ""


def test_plot_draws_every_run_and_scales_the_modes_axis_to_them(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = []
    for row, seed, top in (("gan-r1", 0, 172), ("rpgan-r1-r2", 1, 62)):
        run = _run(row, seed, top, 6.0)
        run["loss"] = r3gan_ablation.ROWS[row].loss
        run["curve"] = [{"step": s, "modes": m, "reverse_kl": 6.9 - m / 100, "samples": 5000} for s, m in ((0, 15), (500, 10), (1000, top))]
        run["loss_d_curve"] = [[25, 1.2], [50, 0.9]]
        runs.append(run)
    saved, original = [], plt.Figure.savefig
    monkeypatch.setattr(plt.Figure, "savefig", lambda fig, path, **kw: (saved.append(fig), original(fig, path, **kw)))
    r3gan_ablation.plot({"runs": runs, "real": {"modes": 1000, "reverse_kl": 0.03}}, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    modes_axis = saved[0].axes[0]
    assert [len(line.get_xdata()) for line in modes_axis.get_lines()] == [3, 3]
    assert modes_axis.get_ylim() == pytest.approx((0, 1.15 * 172))
    assert "real: 1,000" in modes_axis.get_ylabel()
    assert [t.get_text() for t in saved[0].legends[0].get_texts()] == ["GAN + R1, γ 0.05, seed 0", "RpGAN + R1 + R2, γ 0.05, seed 1"]
