"""The colour scoreboard: FID, KID and precision/recall over the TF-Inception network (the papers' protocol).

The data: the Oxygen icons of benchmarks/ada.py (Debian `oxygen-icon-theme`, LGPL-3; 587 distinct icons,
RGB on white, 64 px, a seeded 10 % held out), prepared by `ada.py prepare`.

    python benchmarks/colour.py prepare --out /tmp/gf/icons64
    flock /tmp/heavy.lock python benchmarks/colour.py floor --data /tmp/gf/icons64 --json floor.json
    flock /tmp/heavy.lock python benchmarks/colour.py run --data /tmp/gf/icons64 --runs /tmp/gf/colour \\
        --families dcgan stylegan --minutes 15 30 --seeds 0 1 --n 10000 --json board.json --img docs/img

`table` prints a board (or the runs whose names match `--match`) with the means over seeds; `sheet` draws a row of real
icons and a row of samples per chosen run, e.g. the families' 30-minute cells on the Xeon kind:

    python benchmarks/colour.py table docs/img/colour-board-xeon.json --match '^(dcgan|stylegan|stylegan-ada|fastgan|r3gan)-30min'
    python benchmarks/colour.py sheet docs/img/colour-board-xeon.json --data /tmp/gf/icons64 --runs /tmp/gf/colour \\
        --match '^(dcgan|stylegan|stylegan-ada|fastgan|r3gan)-30min' --out docs/img/colour-board-xeon-30min.png

The small-data board (FastGAN's issue) is the `run` command above on benchmarks/fastgan.py's 300 icons:

    python benchmarks/fastgan.py prepare --out /tmp/gf/icons300
    flock /tmp/heavy.lock python benchmarks/colour.py run --data /tmp/gf/icons300 --runs /tmp/gf/small300 \\
        --families fastgan dcgan-ada stylegan-ada --minutes 30 --seeds 0 1 --json small300.json --img docs/img

`fastgan` is what a user gets (width 8 since Dec 5); the rows recorded before under that name were width 16, which
`--families fastgan-w16` reproduces, and `fastgan-w8b32` is width 8 at batch 32 (docs/fastgan.md compares them);
`fastgan-ada` is the preset with ADA (the board's settings) in place of DiffAugment; `dcgan-ada-b8` is DCGAN + ADA at
fastgan's batch of 8 (with `--rounds`, fastgan's updates and images). Since Dec 7 the fastgan runs play both players at
4e-4 (the CPU preset's, dcgan's); the fastgan rows recorded before ran at 2e-4, which `fastgan-lr2` and
`fastgan-w16lr2` reproduce for the first two; `fastgan-lr4` (and `fastgan-w16lr4`) name 4e-4 explicitly, `-lr8` 8e-4;
`fastgan-d16` is the preset with D at width 16.
Likewise `dcgan` (and `dcgan-ada`) now run at dcgan's learning rate of 4e-4; the rows recorded before Dec 5, night,
ran at 2e-4, which `--families dcgan-lr2` reproduces (`dcgan-lr4` names 4e-4 explicitly). `r3gan` is r3gan's 64 px
CPU preset, with R1 and R2 every 16th D step since Dec 6 (`r3gan-lazy16` names it explicitly); the `r3gan` rows
recorded before penalised every D step, which `--families r3gan-eager` reproduces; `r3gan-lr2x`, `r3gan-gamma02`,
`r3gan-flatlr`, `r3gan-beta05` and `r3gan-fast` change one thing of the preset each (twice the learning rates; a
tenth of γ; no learning-rate decay; Adam's β1 at 0.5; twice the start rate, the same end rate), and `dcgan-rp`,
`dcgan-rp-g2`, `dcgan-r3adam` and `dcgan-r3recipe` give dcgan's players r3gan's recipe one part at a time (its loss,
its γ, its Adam, all of them).

At 128 px (Oxygen's own 128 px drawings, a pool of their own; `--image-size 128` for `run`, `floor` and `sheet`):

    python benchmarks/fastgan.py prepare --out /tmp/gf/icons300-128 --theme oxygen-128
    flock /tmp/heavy.lock python benchmarks/colour.py run --data /tmp/gf/icons300-128 --image-size 128 \\
        --runs /tmp/gf/small300-128 --families fastgan dcgan-ada stylegan-ada r3gan-ada-128 --minutes 30 --seeds 0 \\
        --json small300-128.json

(r3gan's runs list a width for each stage, so at 128 px it plays `r3gan-ada-128`, the 64 px preset with one more stage.)

`--rounds N` trains for N rounds instead of a CPU budget (run names `...-Nrounds-seedS`): families at one batch size
then see the same images, which tells a per-image difference from a difference in speed.

`floor` measures what real data scores against itself: the held-out icons against the training icons
(FID, KID with its subset size, precision/recall), under both resize rules and in bf16, how far the two
resize rules put the same images apart, and FID's own spread at this n (random real subsets of the
held-out size against the rest). `run` trains every family x budget x seed ONE AT A TIME (each run has
the whole machine, 2 threads), then scores each export with `ganforge eval` (TF-Inception, reference =
the whole training split) and writes its sample grid beside a grid of real icons.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from icon_board import add_outputs, add_prepare, generated, save_grids, write_json  # noqa: E402
from machine import describe  # noqa: E402

from ganforge.atomic import write_json_atomic  # noqa: E402
from ganforge.data import load_dataset  # noqa: E402
from ganforge.data.dataset import to_float  # noqa: E402
from ganforge.metrics.features.extractors import tf_inception_extractor  # noqa: E402
from ganforge.metrics.scores.frechet import frechet_distance_features  # noqa: E402
from ganforge.metrics.scores.kid import kernel_inception_distance, kid_subset_size  # noqa: E402
from ganforge.metrics.scores.precision_recall import precision_recall  # noqa: E402

#: run name -> its `ganforge train` arguments: the ada.py settings (batch 32) for dcgan and stylegan, without and with
#: ADA; r3gan's 64 px CPU preset; fastgan's CPU defaults as a user gets them, and its fixed-width variants (the docstring
#: says which recorded rows each reproduces)
ADA = ["--set", "augment=ada", "--set", "ada_speed_images=20000"]
RUNS = {"dcgan": ["--model", "dcgan", "--option", "width=32", "--batch-size", "32"],
        "stylegan": ["--model", "stylegan", "--option", "growth=false", "--batch-size", "32"],
        "r3gan": ["--model", "r3gan", "--option", "widths=[128,128,96,48,24]", "--option", "blocks=1", "--option", "gamma=2.0",
                  "--option", "ema_half_life=2000", "--option", "augment=0", "--batch-size", "32",
                  "--option", "penalty_interval=16"],  # src/ganforge/presets/r3gan-64-cpu.yaml
        "fastgan": ["--model", "fastgan"],
        "fastgan-w16": ["--model", "fastgan", "--option", "width=16"],
        "fastgan-w8": ["--model", "fastgan", "--option", "width=8"],
        "fastgan-w8b32": ["--model", "fastgan", "--option", "width=8", "--batch-size", "32"]}
RUNS.update({"dcgan-ada": RUNS["dcgan"] + ADA, "stylegan-ada": RUNS["stylegan"] + ADA})
#: DCGAN + ADA at fastgan's batch of 8: with `--rounds` it sees the images fastgan sees in as many updates
RUNS["dcgan-ada-b8"] = RUNS["dcgan"][:-1] + ["8"] + ADA
#: fastgan's CPU preset with ADA in place of DiffAugment (the game replaces one with the other)
RUNS["fastgan-ada"] = RUNS["fastgan"] + ADA
#: dcgan at a stated learning rate: 4e-4 is its default since Dec 5, 2e-4 (the paper's) reproduces the board rows before
RUNS.update({f"dcgan-lr{k}": RUNS["dcgan"] + ["--set", f"lr_g={k}e-4", "--set", f"lr_d={k}e-4"] for k in (2, 4)})
#: fastgan's CPU preset (and width 16, named short for the sheet's margin) at a stated learning rate for both players:
#: 4e-4 is the preset's since Dec 7, 2e-4 (the paper's) reproduces the board rows before, 8e-4 asks whether more helps
RUNS.update({f"{short}lr{k}": RUNS[name] + ["--set", f"lr_g={k}e-4", "--set", f"lr_d={k}e-4"]
             for name, short in (("fastgan", "fastgan-"), ("fastgan-w16", "fastgan-w16")) for k in (2, 4, 8)})
#: fastgan's CPU preset with D twice as wide (0.6 M parameters, DCGAN's D has 0.7 M; the preset's has 0.15 M)
RUNS["fastgan-d16"] = RUNS["fastgan"] + ["--option", "d_width=16"]
#: fastgan's CPU preset after Dec 7's faster round (a GLU keeping channels-last gradients, D's spectral norms once a
#: step): the same arguments under a new name, so a board keeps the preset's rows from before beside it
RUNS["fastgan-dec7"] = RUNS["fastgan"]
#: r3gan's penalties named: every 16th D step (the preset since Dec 6) or every step (the board rows before)
RUNS.update({f"r3gan-{name}": RUNS["r3gan"][:-1] + [f"penalty_interval={k}"] for name, k in (("lazy16", 16), ("eager", 1))})
#: r3gan's preset with twice its learning rates (4e-4 -> 1e-4, the schedule's shape kept), a tenth of its γ (0.2 -> 0.02), or its
#: start rate kept to the end (2e-4, no decay), with Adam's β1 at dcgan's 0.5 (the paper: 0), or starting at twice the rate
#: and decaying to the preset's end rate (4e-4 -> 5e-5)
RUNS.update({"r3gan-lr2x": RUNS["r3gan"] + ["--option", "lr=4e-4", "--option", "lr_end=1e-4"],
             "r3gan-gamma02": RUNS["r3gan"] + ["--option", "gamma=0.2"],
             "r3gan-flatlr": RUNS["r3gan"] + ["--option", "lr_end=2e-4"],
             "r3gan-beta05": RUNS["r3gan"] + ["--option", "beta1=0.5"],
             "r3gan-fast": RUNS["r3gan"] + ["--option", "lr=4e-4"]})
#: r3gan's 64 px preset at 128 px, with ADA as the small boards give dcgan and stylegan: one more stage, 16 channels at 128 px
#: (the family default's narrowest), the rest as the preset
RUNS["r3gan-ada-128"] = [a.removesuffix("]") + ",16]" if a.startswith("widths=") else a for a in RUNS["r3gan"]] + ADA
#: dcgan's players moved toward r3gan's recipe one part at a time (which part costs r3gan per round): its loss (RpGAN with
#: R2 beside R1, at dcgan's γ 0.2 or r3gan's preset γ 2), its Adam (β1 0, β2 0.99, the preset's mean learning rate 1.25e-4,
#: constant: dcgan has no schedule), and all of them
RPGAN = ["--loss", "relativistic_pairing", "--set", "r2_gamma=0.2"]
R3ADAM = ["--set", "lr_g=1.25e-4", "--set", "lr_d=1.25e-4", "--set", "beta1=0", "--set", "beta2=0.99"]
GAMMA2 = ["--option", "r1_gamma=2.0", "--set", "r2_gamma=2.0"]
RUNS.update({"dcgan-rp": RUNS["dcgan"] + RPGAN, "dcgan-rp-g2": RUNS["dcgan"] + RPGAN + GAMMA2,
             "dcgan-r3adam": RUNS["dcgan"] + R3ADAM, "dcgan-r3recipe": RUNS["dcgan"] + RPGAN + GAMMA2 + R3ADAM})
#: what `run` trains when no run names are given: every family, and dcgan and stylegan with ADA (not the variants)
DEFAULT_RUNS = ["dcgan", "stylegan", "r3gan", "fastgan", "dcgan-ada", "stylegan-ada"]
COMMON = {"sample_every": 500, "checkpoint_every": 1000, "log_every": 10}


def scores(real: torch.Tensor, fake: torch.Tensor, seed: int = 0) -> dict:
    """FID, KID (subsets of up to 1000, 100 draws) and precision/recall (k = 3, equal set sizes) of two feature sets."""
    kid, kid_std = kernel_inception_distance(real, fake, 100, 1000, seed)
    m = min(len(real), len(fake))
    g = torch.Generator().manual_seed(seed)
    p, r = precision_recall(real[torch.randperm(len(real), generator=g)[:m]], fake[torch.randperm(len(fake), generator=g)[:m]], 3)
    return {"fid": frechet_distance_features(real, fake), "kid": kid, "kid_std": kid_std,
            "kid_subset_size": kid_subset_size(1000, len(real), len(fake)), "precision": p, "recall": r}


def features(images: torch.Tensor, resize: str = "bilinear", precision: str = "fp32") -> torch.Tensor:
    """TF-Inception features of uint8 images, in batches of 64."""
    fx = tf_inception_extractor(precision=precision, resize=resize)
    return torch.cat([fx.extract(to_float(images[i:i + 64]))[0] for i in range(0, len(images), 64)])


def floor(data: Path, seed: int, repeats: int, image_size: int = 64) -> dict:
    """The real data's own scores, the resize rules' distance, the bf16 shift and FID's spread at the held-out size."""
    train = load_dataset(str(data), image_size=image_size, split="train").images
    test = load_dataset(str(data), image_size=image_size, split="test").images
    out = {"machine": describe(), "data": str(data), "train_images": len(train), "held_out_images": len(test)}
    t = time.perf_counter()
    f = {(rule, prec): (features(train, rule, prec), features(test, rule, prec))
         for rule, prec in (("bilinear", "fp32"), ("clean", "fp32"), ("bilinear", "bf16"))}
    out["extraction_s"] = time.perf_counter() - t
    for (rule, prec), (tr, te) in f.items():
        out[f"held_out_vs_train_{rule}_{prec}"] = scores(tr, te, seed)
    (bl, _), (cl, _), (bf, _) = f[("bilinear", "fp32")], f[("clean", "fp32")], f[("bilinear", "bf16")]
    out["same_images_bilinear_vs_clean_fid"] = frechet_distance_features(bl, cl)
    out["same_images_fp32_vs_bf16_fid"] = frechet_distance_features(bl, bf)
    out["same_images_fp32_vs_bf16_max_rel"] = float(((bf - bl).norm(dim=1) / bl.norm(dim=1)).max())
    every = torch.cat(f[("bilinear", "fp32")])
    g, spread = torch.Generator().manual_seed(seed), []
    for _ in range(repeats):  # FID of a random held-out-sized real subset against the rest: its spread is FID's noise at this n
        order = torch.randperm(len(every), generator=g)
        spread.append(frechet_distance_features(every[order[len(test):]], every[order[:len(test)]]))
    out["fid_random_real_splits"] = {"values": spread, "mean": float(torch.tensor(spread).mean()), "std": float(torch.tensor(spread).std())}
    return out


def last_round(run_dir: Path) -> int:
    """The last round the run's metrics log records (0 if none)."""
    log = run_dir / "metrics.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    return max((int(r["step"]) for r in rows if "step" in r), default=0)


def budgets(minutes: list[float], rounds: list[int]) -> list[tuple[str, list[str]]]:
    """Each budget's part of a run name and its `ganforge train` arguments: CPU minutes, or rounds (equal images seen)."""
    return [(f"{m:g}min", ["--minutes", str(m)]) for m in minutes] + [(f"{r}rounds", ["--steps", str(r)]) for r in rounds]


def run(data: Path, runs: Path, families: list[str], minutes: list[float], seeds: list[int], n: int, img: Path | None,
        board_file: Path | None, rounds: list[int] = (), image_size: int = 64) -> dict:
    """Train each run name x budget x seed one at a time, then score it with `ganforge eval` over TF-Inception.

    A budget is CPU minutes (`minutes`) or a number of rounds (`rounds`: families at one batch size then see equal images).
    With `board_file`, runs already on that board are kept and skipped, and the board is rewritten after every
    run, so a scoreboard can grow over several sittings and an interruption loses only the run under way.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    board = json.loads(board_file.read_text()) if board_file is not None and board_file.exists() else {"data": str(data), "runs": {}}
    for run_name in families:
        for budget, budget_args in budgets(minutes, rounds):
            for seed in seeds:
                name = f"{run_name}-{budget}-seed{seed}"
                if name in board["runs"]:
                    print(f"{name}: on the board already, skipped", flush=True)
                    continue
                cmd = [sys.executable, "-m", "ganforge", "train", *RUNS[run_name], "--data", str(data), "--image-size", str(image_size),
                       *budget_args, "--seed", str(seed), "--out", str(runs), "--name", name, "--no-progress",
                       "--device", "cpu"]
                for key, value in COMMON.items():
                    cmd += ["--set", f"{key}={value}"]
                print(" ".join(cmd[2:]), flush=True)
                started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
                subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
                scores_file = runs / f"{name}.json"
                subprocess.run([sys.executable, "-m", "ganforge", "eval", str(runs / name), "--n", str(n), "--seed", "0",
                                "--extractor", "tf-inception", "--json", str(scores_file)], env=env, check=True)
                board["runs"][name] = {"machine": describe(), "started": started, "arguments": cmd[3:],
                                       "rounds": last_round(runs / name), "n": n, "scores": json.loads(scores_file.read_text())}
                if img is not None:
                    save_grids(img, f"colour-board-{name}", generated(runs / name / "export", 64, 0)[0])
                if board_file is not None:
                    write_json_atomic(board_file, board)
    if img is not None:
        real = real_icons(data, image_size)
        save_grids(img, "colour-board-real", real)
        save_sheet(img / "colour-board.png", real, runs, board)
    return board


def real_icons(data: Path, image_size: int = 64) -> torch.Tensor:
    """The first 64 training icons of `data` at `image_size` px, in [-1, 1]: the real rows of the grids and sheets."""
    return to_float(load_dataset(str(data), image_size=image_size, split="train").images[:64])


def sheet_label(name: str) -> str:
    """A board run's row label on the sheet, e.g. "stylegan-ada 30 min s0" for stylegan-ada-30min-seed0 and "dcgan 2333 r s0"
    (r: rounds) for dcgan-2333rounds-seed0; 24 characters fit."""
    run_name, budget, seed = name.rsplit("-", 2)
    unit, shown = ("rounds", "r") if budget.endswith("rounds") else ("min", "min")
    return f"{run_name} {budget.removesuffix(unit)} {shown} s{seed.removeprefix('seed')}"


def save_sheet(path: Path, real: torch.Tensor, runs: Path, board: dict, per_row: int = 10) -> None:
    """One row of real icons, then one row of samples per run on the board whose export is under `runs`."""
    from ganforge.report.grid import save_labeled_rows

    rows, labels = [real[:per_row]], ["real icons"]
    for name in sorted(board["runs"]):
        if (runs / name / "export").exists():
            rows.append(generated(runs / name / "export", per_row, 0)[0])
            labels.append(sheet_label(name))
    save_labeled_rows(torch.cat(rows), path, labels)


def select(board: dict, pattern: str | None) -> dict:
    """The board with only the runs whose name matches the regular expression `pattern` (all runs when None)."""
    return {**board, "runs": {name: run for name, run in board["runs"].items() if pattern is None or re.search(pattern, name)}}


def chosen_runs(board_file: Path, pattern: str | None) -> dict:
    """The runs of the board in `board_file` that `pattern` selects; exits with one sentence when there are none."""
    try:
        board = select(json.loads(board_file.read_text()), pattern)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"Board {str(board_file)!r} could not be read ({type(exc).__name__}); expected a JSON board written by "
                         "`colour.py run --json`.") from None
    if not board["runs"]:
        raise SystemExit(f"No run of board {str(board_file)!r} matches {pattern!r}; expected a pattern such as '^dcgan-30min'.")
    return board


def regex(text: str) -> str:
    """An argparse type: `text` if it compiles as a regular expression."""
    try:
        re.compile(text)
    except re.error as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression ({exc}); expected e.g. '^dcgan-30min'") from None
    return text


def add_image_size(p: argparse.ArgumentParser) -> None:
    """`--image-size`: the side the runs train at and the real icons are shown at (the data's icons should have it)."""
    p.add_argument("--image-size", type=int, default=64, choices=[64, 128], help="pixels (64; 128 for a 128 px folder)")


def table(board: dict) -> str:
    """The board as a markdown table, one row per run, then the mean over seeds of each run name and budget run on
    more than one seed."""
    lines = ["| run | rounds | FID ↓ | KID ↓ (± std, subset) | precision ↑ | recall ↑ | copies |", "|---|---|---|---|---|---|---|"]
    seeds: dict[str, list[dict]] = {}
    for name in sorted(board["runs"]):
        run = board["runs"][name]
        s = run["scores"]
        copies = s.get("memorisation", {}).get("copies")
        lines.append(f"| {name} | {run['rounds']:,} | {s['fd']:.1f} | {s['kid']:.4f} ± {s['kid_std']:.4f} ({s['kid_subset_size']}) | "
                     f"{s['precision']:.3f} | {s['recall']:.3f} | {'–' if copies is None else f'{100 * copies:.1f} %'} |")
        seeds.setdefault(name.rsplit("-", 1)[0], []).append(run)
    means = {group: runs for group, runs in seeds.items() if len(runs) > 1}
    if means:
        lines += ["", "| run, mean over seeds | seeds | rounds | FID ↓ | KID ↓ | precision ↑ | recall ↑ |", "|---|---|---|---|---|---|---|"]
        for group, runs in means.items():
            mean = {key: sum(run["scores"][key] for run in runs) / len(runs) for key in ("fd", "kid", "precision", "recall")}
            rounds = sum(run["rounds"] for run in runs) / len(runs)
            lines.append(f"| {group} | {len(runs)} | {rounds:,.0f} | {mean['fd']:.1f} | {mean['kid']:.4f} | {mean['precision']:.3f} | "
                         f"{mean['recall']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_prepare(sub)
    p = sub.add_parser("floor")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--json", type=Path)
    add_image_size(p)
    p = sub.add_parser("table", help="print a board's runs as a markdown table, and the means over seeds")
    p.add_argument("board", type=Path)
    p.add_argument("--match", type=regex, help="only the runs whose name matches this regular expression")
    p = sub.add_parser("sheet", help="draw a row of real icons, then a row of samples per chosen run of a board")
    p.add_argument("board", type=Path)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="the sheet's PNG")
    p.add_argument("--match", type=regex, help="only the runs whose name matches this regular expression")
    add_image_size(p)
    p = sub.add_parser("run")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--families", nargs="+", default=DEFAULT_RUNS, choices=list(RUNS), help="run names (a family, with ADA, or a variant)")
    p.add_argument("--minutes", type=float, nargs="+", help="CPU-minute budgets (15 and 30 when no budget is given)")
    p.add_argument("--rounds", type=int, nargs="+", default=[], help="round budgets: equal images seen at equal batch sizes")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--n", type=int, default=2000, help="samples scored per run (the reference is the data's training split)")
    add_image_size(p)
    add_outputs(p)
    args = parser.parse_args()
    if args.command == "prepare":
        from ada import prepare

        result = prepare(args.out)
    elif args.command == "table":
        print(table(chosen_runs(args.board, args.match)))
        return
    elif args.command == "sheet":
        board = chosen_runs(args.board, args.match)
        missing = [name for name in sorted(board["runs"]) if not (args.runs / name / "export").is_dir()]
        if missing:
            raise SystemExit(f"Run {missing[0]!r} of the board has no export in {str(args.runs)!r}; expected the --runs folder "
                             "the board was trained into.")
        save_sheet(args.out, real_icons(args.data, args.image_size), args.runs, board)
        return
    elif args.command == "floor":
        result = floor(args.data, args.seed, args.repeats, args.image_size)
    else:
        minutes = args.minutes if args.minutes is not None else ([] if args.rounds else [15, 30])
        result = run(args.data, args.runs, args.families, minutes, args.seeds, args.n, args.img, args.json, args.rounds,
                     args.image_size)
    write_json(result, getattr(args, "json", None))


if __name__ == "__main__":
    main()
