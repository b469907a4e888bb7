"""A model card (README.md with model-hub front matter) written from what a run and its export already record."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from ganforge.errors import GanforgeError
from ganforge.runlog import read_metrics

CARD = "README.md"
#: how `ganforge eval` compares sets (metrics/evaluate.py): the one resize rule, stated on every card
RESIZE_RULE = "real images resized to the generated images' size and channels, then both through the same extractor"
PIPELINES = {"translation": "image-to-image", "superres": "image-to-image", "points": "other"}
NOT_SCORES = {"event", "step", "time", "extractor", "n", "kid_subset_size", "swd_levels", "accuracy_per_class", "memorisation"}


def read_scores(path: Path) -> dict[str, Any]:
    """An eval JSON (`ganforge eval --json`), or a clear error."""
    try:
        scores = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        raise GanforgeError(f"Scores file {str(path)!r} cannot be read as JSON; expected a file written by `ganforge eval --json`.") from None
    if not isinstance(scores, dict):
        raise GanforgeError(f"Scores file {str(path)!r} holds {type(scores).__name__}; expected the JSON object `ganforge eval --json` writes.")
    return scores


def score_rows(scores: dict[str, Any], source: str) -> list[tuple[str, str, float, str, str]]:
    """(source, metric, value, extractor, n) for each number of one evaluation."""
    extractor, n = str(scores.get("extractor", "-")), str(scores.get("n", "-"))
    return [(source, key, float(value), extractor, n) for key, value in scores.items()
            if key not in NOT_SCORES and isinstance(value, (int, float)) and not isinstance(value, bool)]


def _memorisation(run: Optional[Path], scores_files: list[Path]) -> str:
    """The copy check's result (the run's copy_check.json, else an eval JSON's "memorisation"), in one line."""
    found = []
    if run is not None and (run / "copy_check.json").is_file():
        found.append((read_scores(run / "copy_check.json"), "the copy check at the end of training"))
    found += [(read_scores(p).get("memorisation"), f"`ganforge eval` ({Path(p).name})") for p in scores_files]
    for summary, source in found:
        if isinstance(summary, dict) and "ratio" in summary:
            return (f"copy check by {source}: median nearest-training distance ratio {summary['ratio']} (samples over reference; "
                    f"near 1 is no sign of memorisation), {summary.get('flagged', '?')} of {summary.get('n_samples', '?')} "
                    f"samples flagged as copies (share {summary.get('copies', '?')})")
    return "not measured (`ganforge eval --json` records it; export again with --scores)"


def data_facts(info: dict[str, Any]) -> dict[str, Any]:
    """Name, size, resolution and digest of the training data, where the data can still be loaded by name or path."""
    facts: dict[str, Any] = {"name": info.get("data"), "resolution": f"{info.get('image_size')} px, {info.get('channels')} channel(s)"}
    try:
        from ganforge.data import load_dataset
        from ganforge.metrics.reference import images_digest

        dataset = load_dataset(str(info["data"]), image_size=int(info["image_size"]), channels=int(info["channels"]))
        facts.update(size=len(dataset.images), digest=f"sha256:{images_digest(dataset.images)} (ganforge images_digest)")
    except (GanforgeError, KeyError, TypeError, ValueError, OSError):
        facts.update(size="not recorded", digest="not recorded (the data could not be loaded when the card was written)")
    return facts


def _front_matter(info: dict[str, Any], kind: str, onnx: bool, data: str) -> str:
    family = str(info.get("family", "unknown"))
    tags = ["ganforge", "vae" if kind == "vae" else "gan", family, "pytorch", "safetensors"]
    if onnx:
        tags.append("onnx")
    lines = ["---", "license: unknown  # set the licence of these weights (and check your data's) before sharing",
             "library_name: ganforge", f"pipeline_tag: {PIPELINES.get(kind, 'unconditional-image-generation')}", "tags:"]
    lines += [f"  - {tag}" for tag in tags]
    if data:
        lines += ["datasets:", f"  - {data}"]
    return "\n".join(lines + ["---", ""])


def _loading(kind: str, onnx: bool) -> str:
    call = {"translation": "images = generator(x)  # x: (N, C, H, W) in [-1, 1]",
            "superres": "images = generator(x)  # x: low-resolution (N, C, h, w) in [-1, 1]",
            "stylegan": "images = generator(torch.randn(8, generator.z_dim), truncation=0.7)"}.get(
        kind, "images = generator(torch.randn(8, generator.z_dim))  # in [-1, 1]")
    text = ["## How to load it", "", "With ganforge (`pip install ganforge`):", "", "```python", "import torch",
            "from ganforge.export import load_generator", "", "generator, info = load_generator(\"path/to/this/folder\")",
            call, "```", "",
            "Without ganforge: `config.json` names each player's class and constructor arguments (`players.<name>.config`); "
            "the weights are plain safetensors (`safetensors.torch.load_file(\"generator.safetensors\")`) for that class's `load_state_dict`.", ""]
    if onnx:
        text += ["With ONNX (no PyTorch): `onnx.json` lists the graphs, their named inputs and outputs; see "
                 "`docs/export.md` of ganforge for a 20-line onnxruntime + numpy example, or run "
                 "`ganforge sample path/to/this/folder --onnx --out samples`.", ""]
    return "\n".join(text)


def build_card(info: dict[str, Any], kind: str, run: Optional[Path], scores_files: list[Path],
               manifest: Optional[dict[str, Any]], grid: Optional[str]) -> str:
    """The card's Markdown text."""
    family = str(info.get("family", "unknown"))
    data = data_facts(info)
    rows: list[tuple[str, str, float, str, str]] = []
    if run is not None and (run / "metrics.jsonl").is_file():
        _, events = read_metrics(run / "metrics.jsonl")
        for event in events:
            if event.get("event") == "eval":
                rows += score_rows(event, f"training eval at step {event.get('step')}")
    for path in scores_files:
        rows += score_rows(read_scores(path), f"`ganforge eval` ({Path(path).name})")
    memorisation = _memorisation(run, scores_files)
    out = [_front_matter(info, kind, manifest is not None, str(data["name"] or "")),
           f"# {family} on {data['name']}", "",
           f"A {family} model trained with ganforge: {info.get('summary') or 'see the ganforge docs for its family'}.", "",
           "## Data", "", f"- name: {data['name']}", f"- size: {data['size']} images", f"- resolution: {data['resolution']}",
           f"- digest: {data['digest']}"]
    if info.get("num_classes"):
        out.append(f"- classes: {info['num_classes']} ({', '.join(map(str, info.get('class_names') or []))})")
    out += ["", "## Training", "", f"- rounds: {info.get('steps', 'not recorded')}, batch size {info.get('batch_size', 'not recorded')}",
            f"- training time: {info.get('train_seconds', 'not recorded')} s", f"- machine: {info.get('machine', 'not recorded')}"]
    if info.get("checkpoint"):
        out.append(f"- checkpoint: {info['checkpoint']} (the generator the run's evaluations kept, at round {info.get('steps')})")
    out += ["", "## Scores", ""]
    if rows:
        out += [f"Protocol: {RESIZE_RULE}; n generated images and the extractor per row.", "",
                "| source | metric | value | extractor | n |", "|---|---|---|---|---|"]
        out += [f"| {s} | {m} | {v:.6g} | {x} | {n} |" for s, m, v, x, n in rows]
    else:
        out.append("No scores recorded: run `ganforge eval` with `--json` and export again with `--scores FILE`.")
    out += [""]
    if grid:
        out += ["## Samples", "", f"![samples]({grid})", ""]
    if manifest is not None:
        out += ["## ONNX graphs", "", f"Opset {manifest['opset']}, exported with {manifest['exporter']} (torch {manifest['torch']}); "
                f"each checked against PyTorch with onnxruntime to at most {manifest['tolerance']:g} on random inputs.", "",
                "| graph | inputs | outputs | what | max abs difference |", "|---|---|---|---|---|"]
        for g in manifest["graphs"].values():
            ins = ", ".join(f"{k} {v['dtype']}{v['shape']}" for k, v in g["inputs"].items())
            outs = ", ".join(f"{k} {v['dtype']}" for k, v in g["outputs"].items())
            out.append(f"| {g['file']} | {ins} | {outs} | {g['description']} | {g['max_abs_difference']:.2g} |")
        out.append("")
    out += [_loading(kind, manifest is not None),
            "## Intended use and limits", "",
            f"Research and teaching: images like its training data ({data['name']}), at {info.get('image_size')} px. "
            "It reproduces the data's biases and cannot make what the data lacks; generated images are not real people or events.",
            f"Memorisation: {memorisation}.",
            "", "Written by `ganforge export` from the run's records; regenerate it rather than editing it.", ""]
    return "\n".join(out)
