import json
import math
import re

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.report import build_run_report, make_gif, make_grid, moving_average, plot_curves, read_metrics, save_grid, save_labeled_rows, write_html_report
from ganforge.report.curves import score_events
from ganforge.report.gif import pick_frames


# --- grids -----------------------------------------------------------------------------------------
def test_grid_shape_arithmetic():
    grid = make_grid(torch.zeros(10, 1, 28, 28), nrow=5, padding=2)
    assert grid.shape == (62, 152, 1) and grid.dtype == np.uint8
    assert make_grid(torch.zeros(10, 3, 8, 6), nrow=4, padding=0).shape == (3 * 8, 4 * 6, 3)
    assert make_grid(torch.zeros(3, 1, 4, 4), nrow=10, padding=1).shape == (6, 16, 1)  # nrow beyond N: one row
    assert make_grid(torch.zeros(10, 1, 4, 4), padding=0).shape == (12, 16, 1)  # default ⌈√10⌉ = 4 per row
    assert make_grid(torch.zeros(1, 4, 4), padding=0).shape == (4, 4, 1)  # a single (C, H, W) image


def test_grid_values_and_layout():
    images = torch.stack([torch.full((1, 2, 2), -1.0), torch.full((1, 2, 2), 1.0), torch.full((1, 2, 2), 0.0)])
    grid = make_grid(images, nrow=2, padding=1, pad_value=7)[:, :, 0]
    assert grid.shape == (7, 7)
    assert (grid[1:3, 1:3] == 0).all() and (grid[1:3, 4:6] == 255).all()  # -1 -> 0, 1 -> 255
    assert (grid[4:6, 1:3] == 128).all()  # 0 -> 127.5 rounded
    assert (grid[4:6, 4:6] == 7).all() and (grid[0] == 7).all() and (grid[:, 3] == 7).all()  # empty cell and frame
    assert make_grid(torch.tensor([[[[-5.0, 5.0]]], [[[math.nan, 0.5]]]]), nrow=2, padding=0)[0, :, 0].tolist() == [0, 255, 0, 191]


def test_grid_uint8_rgb_input_is_kept():
    images = torch.randint(0, 256, (4, 3, 5, 5), dtype=torch.uint8)
    grid = make_grid(images, nrow=2, padding=0)
    assert grid.shape == (10, 10, 3)
    assert np.array_equal(grid[5:, 5:], images[3].permute(1, 2, 0).numpy())
    assert np.array_equal(make_grid(images.numpy(), nrow=2, padding=0), grid)


def test_grid_rejects_bad_input():
    with pytest.raises(GanforgeError, match="channels"):
        make_grid(torch.zeros(2, 2, 4, 4))
    with pytest.raises(GanforgeError, match="shape"):
        make_grid(torch.zeros(0, 1, 4, 4))
    with pytest.raises(GanforgeError, match="dtype"):
        make_grid(torch.zeros(2, 1, 4, 4, dtype=torch.int64))
    with pytest.raises(GanforgeError, match="nrow"):
        make_grid(torch.zeros(2, 1, 4, 4), nrow=0)


def test_save_grid_png_round_trip(tmp_path):
    gray = torch.rand(10, 1, 28, 28) * 2 - 1
    path = save_grid(gray, tmp_path / "deep" / "er" / "gray.png", nrow=5)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "L" and image.size == (152, 62)
        assert np.array_equal(np.asarray(image), make_grid(gray, nrow=5)[:, :, 0])
    with Image.open(save_grid(torch.rand(4, 3, 8, 8) * 2 - 1, tmp_path / "rgb.png")) as image:
        assert image.mode == "RGB" and image.size == (2 * 8 + 3 * 2,) * 2
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    with pytest.raises(GanforgeError, match="suffix"):
        save_grid(gray, tmp_path / "grid")


def test_labeled_rows_margin_and_cells(tmp_path):
    images = torch.cat([torch.full((4, 1, 16, 16), v) for v in (-1.0, 0.0, 1.0)])  # 3 classes × 4 images
    path = save_labeled_rows(images, tmp_path / "classes.png", ["zero", "one", "a rather long class name"])
    with Image.open(path) as image:
        picture = np.asarray(image)
    plain = make_grid(images, nrow=4)[:, :, 0]
    assert picture.shape[0] == plain.shape[0] and picture.shape[1] > plain.shape[1]
    margin = picture.shape[1] - plain.shape[1]
    assert np.array_equal(picture[:, margin:], plain)  # the grid itself sits unchanged right of the margin
    text = picture[:, :margin]
    for row in range(3):  # every label drew dark ink on the white margin, inside its own row
        band = text[2 + row * 18: 2 + row * 18 + 16]
        assert (band < 100).any()
    with pytest.raises(GanforgeError, match="labelled rows"):
        save_labeled_rows(images, tmp_path / "bad.png", ["a", "b", "c", "d", "e"])
    with Image.open(save_labeled_rows(torch.rand(6, 3, 8, 8) * 2 - 1, tmp_path / "rgb.png", [0, 1])) as image:
        assert image.mode == "RGB"


# --- curves ----------------------------------------------------------------------------------------
def _write_metrics(path, steps=120, with_d=True, evals=True):
    lines = []
    for s in range(1, steps + 1):
        record = {"step": s, "loss_d": 1.0 / s, "loss_g": 0.5 + 0.01 * s, "loss_gp": 0.1}
        if with_d:
            record.update(d_real=0.7, d_fake=0.3)
        if s == 10:
            record["loss_d"] = None  # how RecordBuffer writes NaN
        if s == 11:
            record["loss_g"] = math.inf
        if s % 25 == 0:
            record["time"] = s * 0.1
        lines.append(json.dumps(record))
        if evals and s % 50 == 0:
            lines.append(json.dumps({"event": "eval", "step": s, "fd": 100.0 / s, "kid": 0.5 / s, "kid_std": 0.01,
                                     "n": 200, "extractor": "digits"}))
    lines.append(json.dumps({"event": "resume", "step": 60}))
    lines.append(json.dumps({"event": "threads", "step": 70, "threads": 1}))  # numeric, but not a score
    lines.append('{"step": 121, "loss_d": 0.')  # a line cut short by a crash
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_metrics_separates_events_and_supersedes_resumed_steps(tmp_path):
    path = tmp_path / "metrics.jsonl"
    records = [{"step": s, "loss_d": float(s)} for s in (1, 2, 3, 4)] + [{"step": s, "loss_d": -float(s)} for s in (3, 4, 5)]
    path.write_text("\n".join(json.dumps(r) for r in records) + '\n{"event": "eval", "step": 4, "fd": 1.5}\n\n[1, 2]\n')
    training, events = read_metrics(path)
    assert [(r["step"], r["loss_d"]) for r in training] == [(1, 1.0), (2, 2.0), (3, -3.0), (4, -4.0), (5, -5.0)]
    assert events == [{"event": "eval", "step": 4, "fd": 1.5}]
    assert read_metrics(tmp_path / "missing.jsonl") == ([], [])


def test_moving_average_ignores_nan():
    values = np.array([1.0, np.nan, 3.0, 5.0, np.nan, np.nan, np.nan])
    out = moving_average(values, 3)
    assert out[0] == 1.0 and out[1] == 2.0 and out[2] == 4.0 and out[3] == 4.0 and out[4] == 5.0
    assert np.isnan(out[5]) and np.isnan(out[6]) and len(out) == len(values)
    assert np.array_equal(moving_average(np.array([1.0, 2.0]), 1), [1.0, 2.0])


def test_plot_curves_writes_the_three_figures(tmp_path):
    path = _write_metrics(tmp_path / "metrics.jsonl")
    written = plot_curves(path, tmp_path / "out")
    assert [p.name for p in written] == ["losses.png", "d_outputs.png", "metrics.png"]
    for p in written:
        with Image.open(p) as image:
            assert image.format == "PNG" and image.width >= 400
    evaluations = score_events(read_metrics(path)[1])
    assert [e["step"] for e in evaluations] == [50, 100] and {e.get("event") for e in evaluations} == {"eval"}


def test_plot_curves_only_what_exists(tmp_path):
    path = _write_metrics(tmp_path / "metrics.jsonl", with_d=False, evals=False)
    assert [p.name for p in plot_curves(path, tmp_path)] == ["losses.png"]
    assert plot_curves(tmp_path / "missing.jsonl", tmp_path / "none") == []
    assert not (tmp_path / "none").exists()
    (tmp_path / "empty.jsonl").write_text("")
    assert plot_curves(tmp_path / "empty.jsonl", tmp_path) == []
    (tmp_path / "nan.jsonl").write_text("\n".join(json.dumps({"step": s, "loss_d": None}) for s in range(5)))
    assert plot_curves(tmp_path / "nan.jsonl", tmp_path / "nan") == []  # nothing finite to draw


# --- GIF -------------------------------------------------------------------------------------------
def _frames(tmp_path, count, channels=1, size=8):
    paths = []
    for i in range(count):
        images = torch.full((4, channels, size, size), -1.0 + 2.0 * i / max(count - 1, 1))
        if channels == 3:
            images[:, 1] = -images[:, 0]  # coloured: green falls as red rises
        paths.append(save_grid(images, tmp_path / "samples" / f"step_{i:08d}.png"))
    return paths


@pytest.mark.parametrize("channels", [1, 3])
def test_gif_frames_in_order_last_held(tmp_path, channels):
    paths = _frames(tmp_path, 5, channels)
    out = make_gif(paths, tmp_path / "a" / "training.gif", duration_ms=100)
    expected = []
    for p in paths:
        with Image.open(p) as image:
            expected.append(image.convert("RGB").getpixel((5, 5)))
    shown, durations = [], []
    with Image.open(out) as gif:
        assert gif.format == "GIF" and gif.n_frames == 5
        for i in range(gif.n_frames):
            gif.seek(i)
            shown.append(gif.convert("RGB").getpixel((5, 5)))
            durations.append(gif.info["duration"])
    assert shown == expected and len(set(shown)) == 5
    assert all(r == g == b for r, g, b in shown) == (channels == 1)
    assert durations[:-1] == [100] * 4 and durations[-1] > 100


def test_gif_bounds_frames_and_sizes(tmp_path):
    assert pick_frames(10, 4) == [0, 3, 6, 9] and pick_frames(3, 10) == [0, 1, 2]
    paths = _frames(tmp_path, 12)
    paths[0] = save_grid(torch.full((4, 1, 4, 4), -1.0), tmp_path / "small.png")  # an earlier, smaller grid
    out = make_gif(paths, tmp_path / "t.gif", max_frames=6)
    with Image.open(out) as gif, Image.open(paths[-1]) as last:
        assert gif.n_frames == 6 and gif.size == last.size
    with pytest.raises(GanforgeError, match="at least one"):
        make_gif([], tmp_path / "x.gif")
    with pytest.raises(GanforgeError, match="does not exist"):
        make_gif([tmp_path / "nope.png"], tmp_path / "x.gif")


# --- HTML ------------------------------------------------------------------------------------------
def _run(tmp_path):
    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    (run / "config.yaml").write_text(yaml.safe_dump({"model": "dcgan", "data": "mnist", "name": "demo <run>",
                                                     "steps": 120, "options": {"width": 8}}))
    _write_metrics(run / "metrics.jsonl")
    _frames(run, 3)
    return run


def test_html_report_full_run(tmp_path):
    run = _run(tmp_path)
    (run / "eval_final.json").write_text(json.dumps({"fd": 12.5, "is": 8.25, "is_std": 0.5, "n": 10000}))
    page = build_run_report(run).read_text()
    assert (run / "training.gif").is_file() and (run / "losses.png").is_file()
    images = re.findall(r'<img src="data:image/(png|gif);base64,', page)
    assert images.count("png") == 4 and images.count("gif") == 1  # latest grid + 3 curves, and the GIF
    assert "Fixed-noise samples at step 2" in page
    assert "demo &lt;run&gt;" in page and "<run>" not in page  # text is escaped
    assert re.search(r"<td>options\.width</td><td[^>]*>8</td>", page)
    assert re.search(r"<td>steps</td><td[^>]*>120</td>", page)
    assert "During training, step 100" in page and "eval_final.json" in page
    assert re.search(r"Inception score[^<]*</td><td[^>]*>8\.25</td><td[^>]*>0\.5</td>", page)
    assert page.count("<table>") == 4  # training summary, two evaluations, config
    assert "Last logged step: <b>120</b>" in page


def test_html_report_links_large_images(tmp_path):
    run = _run(tmp_path)
    page = write_html_report(run, embed_limit=0).read_text()
    assert '<img src="samples/step_00000002.png"' in page and "base64" not in page


def test_html_report_with_parts_missing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    page = write_html_report(empty).read_text()
    assert "config.yaml is missing" in page and "No sample grids" in page and "<img" not in page
    (empty / "config.yaml").write_text("- just\n- a list\n")
    (empty / "metrics.jsonl").write_text('{"step": 1, "loss_d": null}\n')
    page = write_html_report(empty).read_text()
    assert "does not hold a mapping" in page and "Last logged step: <b>1</b>" in page
    with pytest.raises(GanforgeError, match="does not exist"):
        write_html_report(tmp_path / "missing")


def test_a_reference_method_is_drawn_in_its_scores_panel_not_its_own(tmp_path):
    from ganforge.report.curves import plot_scores, score_panels

    keys = ["psnr_y", "hf_ratio", "bicubic_psnr_y", "bicubic_hf_ratio", "bicubic_only"]
    assert score_panels(keys) == ["psnr_y", "hf_ratio", "bicubic_only"]  # a bicubic_ key without its score keeps a panel
    events = [{"event": "eval", "step": s, "psnr_y": 30 + s, "hf_ratio": 0.2 * s, "bicubic_psnr_y": 29.0, "bicubic_hf_ratio": 0.1}
              for s in (1, 2, 3)]
    with Image.open(plot_scores(events, tmp_path / "metrics.png")) as two, \
            Image.open(plot_scores([{k: v for k, v in e.items() if not k.startswith("bicubic")} for e in events], tmp_path / "m.png")) as bare:
        assert two.size == bare.size  # two panels either way
