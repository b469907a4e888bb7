"""Sample quality per family after a fixed training budget on MNIST, with real data as the floor.

Trains each available family on MNIST for --minutes of wall-clock time with its defaults, scores
--n samples of its EMA generator with the shipped digit classifier (FD, KID, IS, precision, recall, and
the conditional accuracy of class-conditional models), and prints a markdown table. The first row
scores --n MNIST *training* images against the test split: the best any generator can hope for under
these metrics. Writes quality.json and quality.md into --out.

    python benchmarks/quality.py                       # all families, 5 minutes each, 10,000 samples
    python benchmarks/quality.py --families dcgan --minutes 1 --n 2000
    python benchmarks/quality.py --families dcgan --default-budget --seeds 0,1   # `make train` itself, two seeds
    python benchmarks/quality.py --inception-n 2000 --inception-precision bf16      # also FID over TF-Inception

With --inception-n, each model is also scored over the TF-Inception network (the field's FID; reference: the
MNIST test split, 10,000 images, so the reference is not the 60,000-image training split's hour of extraction)
and the families' ranking by that FID is set against their ranking by the digit classifier's FD (Spearman's
rank correlation and the pairs the two orderings disagree on).

Each row also gives the shares of the samples that the digit classifier assigns to each class (its lowest
and highest; a lost digit shows as a share near 0).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.config import TrainConfig, parse_assignment  # noqa: E402
from ganforge.errors import GanforgeError  # noqa: E402
from ganforge.export import load_generator  # noqa: E402
from ganforge.games.registry import get_family  # noqa: E402
from ganforge.metrics.evaluate import evaluate, score_images  # noqa: E402
from ganforge.train.api import train  # noqa: E402

FAMILIES = ("vanilla", "dcgan", "cgan", "vae", "stylegan", "r3gan", "fastgan")
COLUMNS = (("model", "{}"), ("seed", "{}"), ("fd", "{:.2f}"), ("kid", "{:.4f}"), ("is", "{:.2f}"), ("precision", "{:.3f}"),
           ("recall", "{:.3f}"), ("accuracy", "{:.3f}"), ("fid_tf", "{:.1f}"), ("kid_tf", "{:.4f}"), ("classes", "{}"),
           ("steps", "{}"), ("train_s", "{:.0f}"), ("img_s", "{:.0f}"))
HEADERS = {"model": "model", "seed": "seed", "classes": "class shares (min–max)", "fd": "FD ↓", "kid": "KID ↓", "is": "IS ↑", "precision": "precision ↑",
           "recall": "recall ↑", "accuracy": "cond. acc. ↑", "fid_tf": "FID (TF-Inception) ↓",
           "kid_tf": "KID (TF-Inception) ↓", "steps": "steps", "train_s": "train s", "img_s": "train img/s"}


#: how --inception-n scores a model over TF-Inception: against the MNIST test split (see the module's docstring)
INCEPTION_SPLIT = "test"


def inception_scores(images, precision: str, seed: int) -> dict:
    """FID and KID of images over the TF-Inception network against the MNIST test split."""
    return tf_fields(score_images(images, data="mnist", metrics=("fd", "kid"), extractor="tf-inception", split=INCEPTION_SPLIT,
                                  seed=seed, precision=precision))


def tf_fields(scores: dict) -> dict:
    """A TF-Inception result's FID, KID and protocol under the names this benchmark's rows give them."""
    return {"fid_tf": scores["fd"], "kid_tf": scores["kid"], "inception_protocol": scores.get("protocol")}


def real_floor(n: int, seed: int, inception_n: int = 0, precision: str = "fp32") -> dict:
    """Scores of n MNIST training images against the test split (and of inception_n of them over TF-Inception)."""
    from ganforge.data import load_dataset

    train_set = load_dataset("mnist", split="train")
    index = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(seed))
    scores = score_images(train_set.images[index[:n]], data="mnist", seed=seed)
    if inception_n:
        scores.update(inception_scores(train_set.images[index[:inception_n]], precision, seed))
    return {"model": "real data (MNIST train vs test)", **scores}


def ranks(values: list[float]) -> list[float]:
    """The rank of each value (1 = smallest), ties sharing their mean rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def ranking_agreement(rows: list[dict]) -> dict:
    """Spearman's ρ between the models' FD (digit classifier) and FID (TF-Inception), and the pairs ordered differently."""
    scored = [r for r in rows if r.get("fid_tf") is not None and r["model"].split(" ")[0] != "real"]
    names = [f"{r['model']} (seed {r['seed']})" for r in scored]
    fd, fid = [r["fd"] for r in scored], [r["fid_tf"] for r in scored]
    if len(scored) < 2:
        return {"models": names, "spearman": None, "disagreements": []}
    a, b = ranks(fd), ranks(fid)
    mean = (len(a) + 1) / 2
    num = sum((x - mean) * (y - mean) for x, y in zip(a, b))
    den = (sum((x - mean) ** 2 for x in a) * sum((y - mean) ** 2 for y in b)) ** 0.5
    pairs = [f"{names[i]} vs {names[j]}: FD says {'first' if fd[i] < fd[j] else 'second'} is better, FID says "
             f"{'first' if fid[i] < fid[j] else 'second'}"
             for i in range(len(scored)) for j in range(i + 1, len(scored)) if (fd[i] - fd[j]) * (fid[i] - fid[j]) < 0]
    return {"models": names, "spearman": num / den if den else None, "disagreements": pairs}


@torch.no_grad()
def class_shares(generator, info: dict, n: int, seed: int) -> list[float]:
    """Share of `n` samples that the shipped digit classifier assigns to each class (MNIST-like data only)."""
    from ganforge.metrics.features.extractors import get_extractor
    from ganforge.sampling import iter_samples

    extractor = get_extractor("auto", info.get("data", "mnist"))
    counts = torch.zeros(10)
    generator.eval()
    for batch in iter_samples(generator, n, seed=seed):
        counts += torch.bincount(extractor.extract(batch)[1].argmax(1).cpu(), minlength=10)[:10].float()
    return (counts / n).tolist()


def run_family(family: str, minutes: float | None, n: int, seed: int, out: Path, overrides: dict | None = None,
               inception_n: int = 0, precision: str = "fp32") -> dict:
    """Train one family for `minutes` (None: its default budget, as `ganforge train` does), then score `n`
    samples of its exported (EMA) generator."""
    values = dict(overrides or {})
    if minutes is not None:
        values["minutes"] = minutes
    cfg = TrainConfig(model=family, data="mnist", seed=seed, out=str(out / "runs"),
                      name=f"{family}-s{seed}-{time.strftime('%Y%m%d-%H%M%S')}", **values)
    started = time.perf_counter()
    run_dir = train(cfg, progress=False)
    wall = time.perf_counter() - started
    generator, info = load_generator(run_dir)
    scores = evaluate(generator, info, n=n, seed=seed)
    if inception_n:
        scores.update(tf_fields(evaluate(generator, info, n=inception_n, metrics=("fd", "kid"), seed=seed,
                                         extractor="tf-inception", split=INCEPTION_SPLIT, precision=precision)))
    shares = class_shares(generator, info, n, seed) if int(info.get("num_classes", 0)) in (0, 10) else None
    steps, seconds = int(info.get("steps", 0)), float(info.get("train_seconds", wall))
    batch = int(yaml.safe_load((run_dir / "config.yaml").read_text())["batch_size"])  # resolved by the family
    return {"model": family, "seed": seed, **scores, "steps": steps,
            "class_shares": shares, "classes": f"{100 * min(shares):.1f}–{100 * max(shares):.1f} %" if shares else None, "train_s": seconds, "wall_s": wall,
            "img_s": steps * batch / seconds if seconds > 0 else float("nan"), "run": str(run_dir)}


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table."""
    lines = ["| " + " | ".join(HEADERS[c] for c, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = [fmt.format(row[c]) if row.get(c) is not None else "–" for c, fmt in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Run the benchmark and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=5.0, help="training budget per family (default 5)")
    p.add_argument("--families", default=",".join(FAMILIES), help="comma-separated (default: all available)")
    p.add_argument("--n", type=int, default=10000, help="samples scored per model (default 10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", help="comma-separated seeds, one run each (overrides --seed)")
    p.add_argument("--default-budget", action="store_true", help="each family's default budget (as `ganforge train`) instead of --minutes")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a config value for every run (repeatable)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a family option for every run (repeatable)")
    p.add_argument("--inception-n", type=int, default=0, help="also score this many samples over TF-Inception (default 0: off)")
    p.add_argument("--inception-precision", choices=("fp32", "bf16"), default="fp32", help="TF-Inception's precision (default fp32)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--out", default="benchmarks/results/quality", help="folder for runs, quality.json, quality.md")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    overrides = dict(parse_assignment(text) for text in args.set)
    if args.option:
        overrides["options"] = dict(parse_assignment(text) for text in args.option)
    budget = "its default budget" if args.default_budget else f"{args.minutes:g} min"
    rows, notes = [real_floor(args.n, seeds[0], args.inception_n, args.inception_precision)], []
    rows[0]["img_s"] = None
    print(f"machine: {describe()}", flush=True)
    for family in [f.strip() for f in args.families.split(",") if f.strip()]:
        try:
            get_family(family)
        except GanforgeError as exc:
            notes.append(f"{family}: skipped ({exc})")
            print(notes[-1], flush=True)
            continue
        for seed in seeds:
            print(f"training {family} (seed {seed}) for {budget} ...", flush=True)
            rows.append(run_family(family, None if args.default_budget else args.minutes, args.n, seed, out, overrides,
                                   args.inception_n, args.inception_precision))
            print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    table = markdown(rows)
    header = (f"MNIST, {budget} of training per model, {args.n} samples scored with the digit classifier"
              f"{'; settings ' + json.dumps(overrides) if overrides else ''}; machine: {describe()}")
    agreement = ranking_agreement(rows) if args.inception_n else None
    if agreement:
        rho = "n/a" if agreement["spearman"] is None else f"{agreement['spearman']:.2f}"
        notes += [f"FD and TF-Inception FID ({args.inception_n} samples, {args.inception_precision}) rank the models with "
                  f"Spearman's rho = {rho}"] + [f"disagree: {pair}" for pair in agreement["disagreements"]]
    text = "\n".join([header, "", table] + ([""] + notes if notes else [])) + "\n"
    print()
    print(text)
    (out / "quality.md").write_text(text)
    (out / "quality.json").write_text(json.dumps({"machine": describe(), "minutes": None if args.default_budget else args.minutes,
                                                  "n": args.n, "seeds": seeds, "overrides": overrides,
                                                  "inception_n": args.inception_n, "ranking_agreement": agreement,
                                                  "rows": rows, "notes": notes}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
