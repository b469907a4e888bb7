import json
from types import SimpleNamespace

import numpy as np
import torch
from PIL import Image

from ganforge.config import TrainConfig
from ganforge.export import load_players
from ganforge.report.snapshots import Snapshots, snapshot_dirs
from ganforge.theory.figures import write_theory_report
from ganforge.theory.modes import point_modes
from ganforge.train.api import train


def fake_frame(step, dim=2, r=10):
    grid = torch.rand(r ** dim if dim == 2 else 4 * r, dim)
    means = torch.tensor([[0.0, 0.0], [1.0, 1.0]])[:, :dim]
    samples = torch.randn(50, dim) * 0.01
    grads = {loss: {"d_fake": torch.rand(20), "logit_grad": torch.rand(20), "sample_grad": torch.rand(20)}
             for loss in ("minimax", "non_saturating")}
    return SimpleNamespace(step=step, grid=grid, resolution=r, d_grid=torch.rand(len(grid)), d_star_grid=torch.rand(len(grid)),
                           p_data_grid=torch.rand(len(grid)), p_g_grid=torch.rand(len(grid)), bandwidth=0.1, samples=samples,
                           modes=point_modes(samples, means, 0.01), d_on_data=0.6, d_on_fake=0.4, d_star_on_data=0.55,
                           d_star_on_fake=0.45, gap=0.1, gradients=grads, plane_gradients=grads,
                           parameter_grad={"minimax": 0.1, "non_saturating": 1.0})


def test_every_figure_is_written_for_2d_and_1d(tmp_path):
    for dim in (2, 1):
        frames = [fake_frame(s, dim) for s in (0, 10, 20)]
        means = np.array([[0.0, 0.0], [1.0, 1.0]])[:, :dim]
        written = write_theory_report(frames, means, 0.01, tmp_path / str(dim), records=[{"step": 1, "d_real": 0.7, "d_fake": 0.3}])
        for key in ("gif", "last", "half", "saturation", "json"):
            assert written[key].is_file() and written[key].stat().st_size > 0
        assert len(list((tmp_path / str(dim) / "frames").glob("*.png"))) == 3
        with Image.open(written["gif"]) as gif:
            assert gif.n_frames == 3
        rows = json.loads(written["json"].read_text())["snapshots"]
        assert [r["step"] for r in rows] == [0, 10, 20] and rows[0]["modes_modes"] == 1 and rows[0]["grad_theta_minimax"] == 0.1


def test_snapshots_callback_exports_both_players_over_training(tmp_path):
    cfg = TrainConfig(model="toy", steps=5, batch_size=8, out=str(tmp_path), name="s", checkpoint_every=5,
                      options={"g_width": 8, "d_width": 8, "g_depth": 1, "d_depth": 1})
    run = train(cfg, callbacks=[Snapshots(2)])
    assert [p.name for p in snapshot_dirs(run)] == ["step_00000000", "step_00000002", "step_00000004", "step_00000005"]
    players, info = load_players(snapshot_dirs(run)[1])
    assert set(players) == {"generator", "discriminator"} and info["steps"] == 2 and info["family"] == "toy"
    first, last = (load_players(p)[0]["discriminator"] for p in (snapshot_dirs(run)[0], snapshot_dirs(run)[-1]))
    assert not torch.equal(first.head.weight, last.head.weight)
