"""The theory figures of a toy run: D(x) against D*(x) over training (PNGs and a GIF), D → ½,
the saturation of the minimax generator loss, and the samples over the mixture with their mode counts.

The numbers come from ganforge.theory.analysis (one "frame" per snapshot, duck-typed here: step, grid,
resolution, d_grid, d_star_grid, p_data_grid, p_g_grid, bandwidth, samples, modes, d_on_data,
d_on_fake, d_star_on_data, d_star_on_fake, gap, gradients, parameter_grad).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ganforge.atomic import write_json_atomic
from ganforge.report.gif import make_gif


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    _plt().close(fig)
    return path


def _modes_text(modes) -> str:
    kl = "nan" if math.isnan(modes.reverse_kl) else f"{modes.reverse_kl:.2f}"
    return f"modes {modes.modes}/{modes.num_modes}, high quality {100 * modes.high_quality:.1f}%, reverse KL {kl}"


def draw_frame(frame, means: np.ndarray, sigma: float, path: Path, title: str = "") -> Path:
    """One snapshot: trained D(x), optimal D*(x) and G's samples (2-D), or densities and both D's (1-D)."""
    plt = _plt()
    grid = frame.grid.numpy()
    if grid.shape[1] == 1:
        fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
        x = grid[:, 0]
        scale = max(float(frame.p_data_grid.max()), float(frame.p_g_grid.max()), 1e-12)
        ax.fill_between(x, frame.p_data_grid.numpy() / scale, color="tab:blue", alpha=0.25, label="p_data (scaled)")
        ax.plot(x, frame.p_g_grid.numpy() / scale, color="tab:green", label="p_g by KDE (scaled)")
        ax.plot(x, frame.d_star_grid.numpy(), "k--", label="D*(x) = p_data/(p_data+p_g)")
        ax.plot(x, frame.d_grid.numpy(), color="tab:red", label="trained D(x)")
        ax.axhline(0.5, color="gray", lw=0.6)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("x")
        ax.legend(loc="upper left", fontsize=8)
        ax.set_title(f"{title}step {frame.step}: E D(x)={frame.d_on_data:.2f}, E D(G(z))={frame.d_on_fake:.2f}, "
                     f"weighted |D-D*|={frame.gap:.3f}", fontsize=9)
        return _save(fig, path)
    r = frame.resolution
    low, high = float(grid[:, 0].min()), float(grid[:, 0].max())
    extent = (low, high, low, high)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.6), constrained_layout=True)
    for ax, values, name in ((axes[0], frame.d_grid, "trained D(x)"), (axes[1], frame.d_star_grid, "D*(x) = p_data/(p_data+p_g)")):
        im = ax.imshow(values.numpy().reshape(r, r), origin="lower", extent=extent, vmin=0, vmax=1, cmap="RdBu_r")
        ax.scatter(means[:, 0], means[:, 1], s=8, c="k", marker="x", lw=0.8)
        ax.set_title(name, fontsize=10)
    fig.colorbar(im, ax=axes[:2], shrink=0.85, label="P(real)")
    s = frame.samples.numpy()
    axes[2].scatter(s[:, 0], s[:, 1], s=2, c="k", alpha=0.5, label="G(z), 2,500")
    for m in means:
        axes[2].add_patch(plt.Circle(m, 3 * sigma, color="tab:red", fill=False, lw=0.8))
    axes[2].scatter(means[:, 0], means[:, 1], s=6, c="tab:red")
    axes[2].set_xlim(low, high)
    axes[2].set_ylim(low, high)
    axes[2].set_aspect("equal")
    axes[2].set_title(_modes_text(frame.modes), fontsize=9)
    fig.suptitle(f"{title}step {frame.step}: E D(x)={frame.d_on_data:.2f} (D* {frame.d_star_on_data:.2f}), "
                 f"E D(G(z))={frame.d_on_fake:.2f} (D* {frame.d_star_on_fake:.2f}), weighted |D-D*|={frame.gap:.3f}, "
                 f"KDE h={frame.bandwidth:.3f}", fontsize=10)
    return _save(fig, path)


def draw_half(frames: Sequence, path: Path, records: Sequence[dict] = ()) -> Path:
    """E D(x) and E D(G(z)) of the trained D and of D* at each snapshot, with the ½ line and the training log."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.2), constrained_layout=True)
    if records:
        steps = np.array([r["step"] for r in records if "d_real" in r])
        if steps.size:
            ax.plot(steps, [r["d_real"] for r in records if "d_real" in r], color="tab:blue", alpha=0.2, lw=0.6)
            ax.plot(steps, [r["d_fake"] for r in records if "d_real" in r], color="tab:orange", alpha=0.2, lw=0.6)
    steps = [f.step for f in frames]
    ax.plot(steps, [f.d_on_data for f in frames], "o-", color="tab:blue", label="trained D on data")
    ax.plot(steps, [f.d_on_fake for f in frames], "o-", color="tab:orange", label="trained D on G(z)")
    ax.plot(steps, [f.d_star_on_data for f in frames], "s--", color="tab:blue", mfc="none", label="D* on data")
    ax.plot(steps, [f.d_star_on_fake for f in frames], "s--", color="tab:orange", mfc="none", label="D* on G(z)")
    ax.axhline(0.5, color="k", lw=0.8)
    ax.set_ylim(0, 1)
    ax.set_xlabel("step")
    ax.set_ylabel("mean P(real)")
    ax.legend(fontsize=8)
    ax.set_title("D -> 1/2 as p_g approaches p_data? (faint: per-step training log)", fontsize=10)
    return _save(fig, path)


def draw_saturation(frames: Sequence, path: Path) -> Path:
    """The saturation figure: |dℓ/d logit| against D for both generator losses (autograd over the analytic
    lines), ‖dℓ/dx‖ against D(x) over the plane (log scale), and ‖∇_θ L_G‖ at each snapshot."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), constrained_layout=True)
    colors = {"minimax": "tab:red", "non_saturating": "tab:blue"}
    d = np.linspace(0, 1, 101)
    axes[0].plot(d, d, color="tab:red", lw=2, alpha=0.5, label="minimax: |dℓ/da| = D")
    axes[0].plot(d, 1 - d, color="tab:blue", lw=2, alpha=0.5, label="non-saturating: |dℓ/da| = 1 - D")
    for loss, color in colors.items():
        xs = np.concatenate([np.concatenate([f.gradients[loss]["d_fake"].numpy(), f.plane_gradients[loss]["d_fake"].numpy()])
                             for f in frames])
        ys = np.concatenate([np.concatenate([f.gradients[loss]["logit_grad"].numpy(), f.plane_gradients[loss]["logit_grad"].numpy()])
                             for f in frames])
        pick = slice(None, None, max(1, len(xs) // 400))
        axes[0].scatter(xs[pick], ys[pick], s=9, facecolors="none", edgecolors=color, lw=0.6, label=f"{loss}, autograd")
        px = np.concatenate([f.plane_gradients[loss]["d_fake"].numpy() for f in frames])
        py = np.concatenate([f.plane_gradients[loss]["sample_grad"].numpy() for f in frames])
        axes[1].scatter(px, np.maximum(py, 1e-12), s=2, alpha=0.2, c=color, label=f"{loss}, points of the plane")
        sx = np.concatenate([f.gradients[loss]["d_fake"].numpy() for f in frames])
        sy = np.concatenate([f.gradients[loss]["sample_grad"].numpy() for f in frames])
        axes[1].scatter(sx, np.maximum(sy, 1e-12), s=6, marker="x", lw=0.5, c=color, alpha=0.5, label=f"{loss}, G's samples")
    axes[0].set_xlabel("D(x) = sigmoid(a)")
    axes[0].set_ylabel("|dℓ/da| per sample")
    axes[0].legend(fontsize=7)
    axes[0].set_title("generator loss slope at the logit", fontsize=10)
    axes[1].set_yscale("log")
    axes[1].set_xlabel("D(x)")
    axes[1].set_ylabel("‖dℓ/dx‖ (gradient a sample at x would get)")
    axes[1].legend(fontsize=7, markerscale=3)
    axes[1].set_title("all snapshots: minimax vanishes where D rejects (D -> 0)", fontsize=10)
    mean_d = [f.d_on_fake for f in frames]
    for loss, color in colors.items():
        axes[2].plot(mean_d, [f.parameter_grad[loss] for f in frames], "o", color=color, label=loss)
        for f in frames:
            axes[2].annotate(str(f.step), (f.d_on_fake, f.parameter_grad[loss]), fontsize=6, color=color)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("mean D(G(z)) at the snapshot")
    axes[2].set_ylabel("‖∇_θ L_G‖ (2,500 latents)")
    axes[2].legend(fontsize=8)
    axes[2].set_title("G's parameter gradient, same players (labels: step)", fontsize=10)
    return _save(fig, path)


def summary(frames: Sequence) -> list[dict]:
    """Per-snapshot numbers as plain dicts (for theory.json)."""
    rows = []
    for f in frames:
        rows.append({"step": f.step, "d_on_data": f.d_on_data, "d_on_fake": f.d_on_fake,
                     "d_star_on_data": f.d_star_on_data, "d_star_on_fake": f.d_star_on_fake, "weighted_gap": f.gap,
                     "bandwidth": f.bandwidth, **{f"modes_{k}": v for k, v in f.modes.as_dict().items()},
                     **{f"grad_theta_{k}": v for k, v in f.parameter_grad.items()},
                     **{f"mean_logit_grad_{k}": float(v["logit_grad"].mean()) for k, v in f.gradients.items()}})
    return rows


def write_theory_report(frames: Sequence, means: np.ndarray, sigma: float, out_dir: str | Path,
                        records: Sequence[dict] = (), title: str = "") -> dict[str, Path]:
    """Every theory figure of a run into `out_dir`: frames/, d_vs_dstar.gif, d_vs_dstar.png (last frame),
    d_half.png, saturation.png, theory.json; returns the written paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs = [draw_frame(f, means, sigma, out / "frames" / f"step_{f.step:08d}.png", title) for f in frames]
    written = {"frames": out / "frames", "gif": make_gif(pngs, out / "d_vs_dstar.gif", duration_ms=400),
               "last": draw_frame(frames[-1], means, sigma, out / "d_vs_dstar.png", title),
               "half": draw_half(frames, out / "d_half.png", records),
               "saturation": draw_saturation(frames, out / "saturation.png")}
    write_json_atomic(out / "theory.json", {"snapshots": summary(frames)})
    written["json"] = out / "theory.json"
    return written
