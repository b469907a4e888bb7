"""Generated digits as training data, from an exported conditional model trained on MNIST.

    ganforge train --model cgan --minutes 10 --name cgan10
    python benchmarks/cgan_augmentation.py runs/cgan10 --json cgan_augmentation.json

Prints, for the model:
  * conditional accuracy: the shipped digit classifier's accuracy on samples against the asked class;
  * CAS (Ravuri & Vinyals 2019): a classifier trained on generated digits only, tested on real MNIST
    test, beside the same classifier trained on as many real digits;
  * few labels: a classifier trained on --real-per-class real digits per class, with and without
    generated digits (half of every batch), tested on real MNIST test.
Every classifier has the shipped digit classifier's architecture and the same seed and step budget.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.errors import GanforgeError  # noqa: E402
from ganforge.export import load_generator  # noqa: E402
from ganforge.metrics.scores.cas import classification_accuracy_score, few_label_experiment  # noqa: E402
from ganforge.metrics.scores.conditional_accuracy import classifier_for, conditional_accuracy  # noqa: E402


def main(argv=None) -> int:
    """Run the three measurements and print them (and write them as JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="exported conditional model folder or run folder")
    p.add_argument("--cas-per-class", type=int, default=1000, help="generated (and real reference) digits per class for CAS")
    p.add_argument("--real-per-class", type=int, default=100, help="real labelled digits per class in the few-label test")
    p.add_argument("--generated-per-class", type=int, default=1000, help="generated digits per class added to them")
    p.add_argument("--accuracy-per-class", type=int, default=1000, help="samples per class for conditional accuracy")
    p.add_argument("--steps", type=int, default=1000, help="training steps of every classifier (batch 128)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        generator, info = load_generator(args.model, args.device)
        data = info.get("data") or "mnist"
        started = time.perf_counter()
        acc = conditional_accuracy(generator, args.accuracy_per_class, args.seed, classifier_for(data),
                                   device=torch.device(args.device))
        cas = classification_accuracy_score(generator, args.cas_per_class, args.steps, args.seed, data,
                                            torch.device(args.device))
        few = few_label_experiment(generator, args.real_per_class, args.generated_per_class, args.steps, args.seed,
                                   data, torch.device(args.device))
    except GanforgeError as exc:
        print(f"cgan_augmentation: error: {exc}", file=sys.stderr)
        return 2
    print(f"model {args.model} (data {data}, {info.get('steps')} steps, {info.get('train_seconds')} s of training)")
    print(f"conditional accuracy        {acc['overall']:.4f}  per class: "
          + " ".join(f"{v:.3f}" for v in acc["per_class"]))
    print(f"CAS (generated only)        {cas['cas']:.4f}  ({args.cas_per_class}/class, {args.steps} steps)")
    print(f"  same classifier, real     {cas['real_same_size']:.4f}  ({args.cas_per_class} real/class)")
    print(f"few labels, real only       {few['real_only']:.4f}  ({args.real_per_class} real/class)")
    print(f"few labels, real+generated  {few['real_plus_generated']:.4f}  (+{args.generated_per_class} generated/class)")
    if args.json:
        result = {"model": args.model, "data": data, "conditional_accuracy": acc, "cas": cas, "few_labels": few,
                  "seconds": round(time.perf_counter() - started, 1), "machine": describe(),
                  "threads": torch.get_num_threads(), "device": args.device}
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
