"""benchmarks/colour.py: a scoreboard that grows over sittings, one run at a time, rewritten after each run."""
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import colour  # noqa: E402


class FakeRuns:
    """Stands in for `ganforge train` and `ganforge eval`: writes a metrics log and a scores file, records each call."""

    def __init__(self, runs: Path):
        self.runs, self.calls = runs, []

    def __call__(self, cmd, **kwargs):
        self.calls.append(cmd[3])
        if cmd[3] == "train":
            name = cmd[cmd.index("--name") + 1]
            (self.runs / name).mkdir(parents=True)
            (self.runs / name / "metrics.jsonl").write_text('{"step": 10}\n{"step": 20, "loss_d": 1.0}\n{"sample": 1}\n')
        else:
            Path(cmd[cmd.index("--json") + 1]).write_text(json.dumps({"fd": 12.5, "kid": 0.01}))


def test_board_keeps_earlier_runs_and_skips_them(tmp_path, monkeypatch):
    fake = FakeRuns(tmp_path / "runs")
    monkeypatch.setattr(colour.subprocess, "run", fake)
    board_file = tmp_path / "board.json"
    first = colour.run(tmp_path / "data", tmp_path / "runs", ["dcgan"], [30], [0], 2000, None, board_file)
    assert fake.calls == ["train", "eval"]
    run = json.loads(board_file.read_text())["runs"]["dcgan-30min-seed0"]
    assert run == first["runs"]["dcgan-30min-seed0"]
    assert run["rounds"] == 20 and run["n"] == 2000 and run["scores"] == {"fd": 12.5, "kid": 0.01}
    assert run["arguments"][:3] == ["train", "--model", "dcgan"] and {"--data", "--minutes"} <= set(run["arguments"])

    second = colour.run(tmp_path / "data", tmp_path / "runs", ["dcgan", "stylegan"], [30], [0], 2000, None, board_file)
    assert fake.calls == ["train", "eval", "train", "eval"]  # only stylegan ran
    assert set(second["runs"]) == {"dcgan-30min-seed0", "stylegan-30min-seed0"}
    assert second["runs"]["dcgan-30min-seed0"] == run
    assert json.loads(board_file.read_text()) == second


def test_ada_runs_add_ada_to_their_family_arguments(tmp_path, monkeypatch):
    fake = FakeRuns(tmp_path / "runs")
    monkeypatch.setattr(colour.subprocess, "run", fake)
    board = colour.run(tmp_path / "data", tmp_path / "runs", ["stylegan-ada"], [15], [1], 500, None, None)
    args = board["runs"]["stylegan-ada-15min-seed1"]["arguments"]
    assert args[args.index("--model") + 1] == "stylegan" and "augment=ada" in args and "growth=false" in args
    assert "augment=ada" not in colour.RUNS["stylegan"]


def test_a_round_budget_trains_for_that_many_steps_and_is_named_by_it(tmp_path, monkeypatch):
    fake = FakeRuns(tmp_path / "runs")
    monkeypatch.setattr(colour.subprocess, "run", fake)
    board = colour.run(tmp_path / "data", tmp_path / "runs", ["dcgan"], [15], [0], 500, None, None, rounds=[2333])
    assert list(board["runs"]) == ["dcgan-15min-seed0", "dcgan-2333rounds-seed0"]
    args = board["runs"]["dcgan-2333rounds-seed0"]["arguments"]
    assert args[args.index("--steps") + 1] == "2333" and "--minutes" not in args
    assert "--steps" not in board["runs"]["dcgan-15min-seed0"]["arguments"]


def test_the_image_size_reaches_every_runs_training_and_is_64_unless_told(tmp_path, monkeypatch):
    fake = FakeRuns(tmp_path / "runs")
    monkeypatch.setattr(colour.subprocess, "run", fake)
    board = colour.run(tmp_path / "data", tmp_path / "runs", ["dcgan-ada", "fastgan"], [30], [0], 500, None, None, image_size=128)
    for run in board["runs"].values():
        args = run["arguments"]
        assert [args[i + 1] for i, a in enumerate(args) if a == "--image-size"] == ["128"]
    monkeypatch.setattr(colour.subprocess, "run", FakeRuns(tmp_path / "runs64"))
    board = colour.run(tmp_path / "data", tmp_path / "runs64", ["dcgan"], [30], [0], 500, None, None)
    args = board["runs"]["dcgan-30min-seed0"]["arguments"]
    assert args[args.index("--image-size") + 1] == "64"


def test_sheet_labels_name_run_budget_and_seed_and_fit_the_margin():
    assert colour.sheet_label("fastgan-w8b32-30min-seed1") == "fastgan-w8b32 30 min s1"
    assert colour.sheet_label("dcgan-2333rounds-seed0") == "dcgan 2333 r s0"
    for budget in ("30min", "2333rounds"):  # the sheet's margin cuts longer labels
        assert all(len(colour.sheet_label(f"{run}-{budget}-seed0")) <= 24 for run in colour.RUNS)


def test_last_round_of_a_run_without_log_is_zero(tmp_path):
    assert colour.last_round(tmp_path) == 0


def test_table_has_a_row_per_run_with_its_scores():
    scores = {"fd": 157.24, "kid": 0.0651, "kid_std": 0.0021, "kid_subset_size": 528, "precision": 0.1875, "recall": 0.0095,
              "memorisation": {"copies": 0.0405}}
    board = {"runs": {"stylegan-30min-seed0": {"rounds": 9962, "scores": scores},
                      "dcgan-30min-seed0": {"rounds": 10092, "scores": {**scores, "memorisation": {}}}}}
    lines = colour.table(board).splitlines()
    assert len(lines) == 4 and lines[2].startswith("| dcgan-30min-seed0 | 10,092 | 157.2 |")
    assert lines[3] == "| stylegan-30min-seed0 | 9,962 | 157.2 | 0.0651 ± 0.0021 (528) | 0.188 | 0.009 | 4.0 % |"
    assert lines[2].endswith("| – |")  # no copy check recorded


def run_options(args: list[str]) -> dict[str, str]:
    """A run's `--option key=value` pairs; the last of a name wins, as in train."""
    return dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "--option")


def test_the_r3gan_run_is_the_64_px_cpu_preset():
    import yaml

    from ganforge.games.r3gan import R3GANOptions

    preset = yaml.safe_load((Path(__file__).resolve().parents[1] / "src/ganforge/presets/r3gan-64-cpu.yaml").read_text())
    args = colour.RUNS["r3gan"]
    options = run_options(args)
    assert {k: yaml.safe_load(v) for k, v in options.items()} == {k: v for k, v in preset["options"].items() if k in options}
    defaults = R3GANOptions()
    assert {k: v for k, v in preset["options"].items() if k not in options} == {"z_dim": defaults.z_dim, "group_width": defaults.group_width}
    assert args[args.index("--batch-size") + 1] == str(preset["batch_size"])
    assert "penalty_interval=1" in colour.RUNS["r3gan-eager"] and colour.RUNS["r3gan-lazy16"] == args


def test_the_r3gan_variants_change_only_what_they_name():
    preset = run_options(colour.RUNS["r3gan"])
    assert run_options(colour.RUNS["r3gan-lr2x"]) == {**preset, "lr": "4e-4", "lr_end": "1e-4"}
    assert run_options(colour.RUNS["r3gan-gamma02"]) == {**preset, "gamma": "0.2"} and preset["gamma"] == "2.0"


def test_the_128_px_r3gan_run_adds_a_stage_and_ada_to_the_preset():
    import yaml

    from ganforge.models.r3gan import R3GANDiscriminator, R3GANGenerator

    preset, run = run_options(colour.RUNS["r3gan"]), run_options(colour.RUNS["r3gan-ada-128"])
    widths = yaml.safe_load(run.pop("widths"))
    assert run == {k: v for k, v in preset.items() if k != "widths"} and widths[:-1] == yaml.safe_load(preset["widths"])
    assert colour.RUNS["r3gan-ada-128"][-len(colour.ADA):] == colour.ADA
    shape = dict(channels=3, image_size=128, widths=widths, blocks=int(run["blocks"]))
    g, d = R3GANGenerator(**shape), R3GANDiscriminator(**shape)
    image = g(torch.randn(2, g.z_dim))
    assert image.shape == (2, 3, 128, 128) and d(image).shape[0] == 2


def test_select_keeps_the_runs_whose_names_match():
    board = {"data": "icons", "runs": {name: {} for name in ("dcgan-30min-seed0", "dcgan-lr4-30min-seed0", "r3gan-15min-seed1")}}
    assert set(colour.select(board, r"^(dcgan|r3gan)-\d+min")["runs"]) == {"dcgan-30min-seed0", "r3gan-15min-seed1"}
    assert colour.select(board, None) == board and colour.select(board, "-15min")["data"] == "icons"


def test_table_adds_the_mean_over_seeds_of_each_run_and_budget():
    def run(rounds, fd, kid):
        return {"rounds": rounds, "scores": {"fd": fd, "kid": kid, "kid_std": 0.001, "kid_subset_size": 528, "precision": 0.2,
                                             "recall": 0.1}}
    board = {"runs": {"dcgan-30min-seed0": run(100, 140.0, 0.06), "dcgan-30min-seed1": run(200, 150.0, 0.08),
                      "dcgan-15min-seed0": run(50, 170.0, 0.09)}}
    lines = colour.table(board).splitlines()
    assert lines[5] == "" and len(lines) == 9  # two header lines and three runs, a blank line, then the means
    assert lines[8] == "| dcgan-30min | 2 | 150 | 145.0 | 0.0700 | 0.200 | 0.100 |"  # one seed of 15 min: no mean


def test_sheet_draws_real_icons_then_only_the_chosen_runs(tmp_path, monkeypatch):
    import torch
    from PIL import Image

    drawn = []

    def generated(export, n, seed):
        drawn.append(export.parent.name)
        return torch.zeros(n, 3, 64, 64), {}

    monkeypatch.setattr(colour, "generated", generated)
    board = {"runs": {name: {} for name in ("dcgan-30min-seed0", "fastgan-30min-seed0", "dcgan-15min-seed0")}}
    for name in board["runs"]:
        (tmp_path / name / "export").mkdir(parents=True)
    one_row, all_rows = tmp_path / "one.png", tmp_path / "all.png"
    colour.save_sheet(one_row, torch.ones(10, 3, 64, 64), tmp_path, colour.select(board, "fastgan"))
    assert drawn == ["fastgan-30min-seed0"]
    colour.save_sheet(all_rows, torch.ones(10, 3, 64, 64), tmp_path, board)
    assert Image.open(all_rows).height > Image.open(one_row).height


def test_chosen_runs_refuse_a_missing_board_and_a_pattern_matching_nothing(tmp_path):
    import argparse

    import pytest

    with pytest.raises(SystemExit, match="could not be read"):
        colour.chosen_runs(tmp_path / "none.json", None)
    (tmp_path / "board.json").write_text(json.dumps({"runs": {"dcgan-30min-seed0": {}}}))
    with pytest.raises(SystemExit, match="No run of board .* matches 'fastgan'"):
        colour.chosen_runs(tmp_path / "board.json", "fastgan")
    assert list(colour.chosen_runs(tmp_path / "board.json", "dcgan")["runs"]) == ["dcgan-30min-seed0"]
    with pytest.raises(argparse.ArgumentTypeError, match="not a regular expression"):
        colour.regex("(dcgan")
