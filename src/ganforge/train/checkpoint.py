"""Checkpoint folders written atomically: a kill at any moment leaves the last good one loadable."""
from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any, Optional

import torch

from ganforge.atomic import remove_leftovers, write_folder_atomic, write_text_atomic
from ganforge.errors import GanforgeError
from ganforge.train.state_io import load_state, save_state

FORMAT = "ganforge-checkpoint/1"
STEP_NAME = re.compile(r"step_\d{8}")  #: the only names `latest` may hold
_POINTER_BYTES = 64  #: more than any step name; a longer `latest` is not ours


class Checkpoints:
    """The `checkpoints/` folder of a run: step_XXXXXXXX folders, named ones ("best"), a `latest` pointer."""

    def __init__(self, run_dir: Path, keep: int = 2):
        self.root = Path(run_dir) / "checkpoints"
        self.keep = keep

    def save(self, state: dict[str, Any], step: int, tag: Optional[str] = None) -> Path:
        """Write `state` as a new checkpoint folder; step checkpoints also move the `latest` pointer."""
        self.root.mkdir(parents=True, exist_ok=True)
        name = tag or f"step_{step:08d}"

        def fill(tmp: Path) -> None:
            save_state(state, tmp)
            (tmp / "meta.json").write_text(json.dumps({"format": FORMAT, "step": step}))

        final = write_folder_atomic(self.root / name, fill)
        if tag is None:
            write_text_atomic(self.root / "latest", name)
            self._prune(keep=name)
        return final

    def _prune(self, keep: str) -> None:
        steps = sorted(p for p in self.root.glob("step_*") if p.is_dir())
        for old in steps[:-self.keep]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)

    def latest(self) -> Optional[Path]:
        """The newest complete step checkpoint inside this run, or None; a `latest` pointing elsewhere is an error."""
        pointer = self.root / "latest"
        if pointer.exists() or pointer.is_symlink():
            candidate = self.root / self._pointed_name(pointer)
            if candidate.is_symlink():
                raise GanforgeError(f"Checkpoint {str(candidate)!r} is a symbolic link; expected a step folder inside {str(self.root)!r} "
                                    "(checkpoints are only read from inside their run).")
            if (candidate / "meta.json").is_file():
                return candidate
        complete = sorted(p for p in self.root.glob("step_*")
                          if STEP_NAME.fullmatch(p.name) and not p.is_symlink() and (p / "meta.json").is_file())
        return complete[-1] if complete else None

    def _pointed_name(self, pointer: Path) -> str:
        """The step folder name `latest` holds, once it is sure it names a folder of this run."""
        if pointer.is_symlink() or not pointer.is_file():
            raise GanforgeError(f"Checkpoint pointer {str(pointer)!r} is a {'link' if pointer.is_symlink() else 'folder'}; "
                                "expected a small text file naming a step_XXXXXXXX folder beside it.")
        data = pointer.read_bytes()[:_POINTER_BYTES + 1]
        try:
            name = data.decode("utf-8").strip()
        except UnicodeDecodeError:
            name = None
        if name is None or len(data) > _POINTER_BYTES or not STEP_NAME.fullmatch(name):
            shown = repr(name[:40]) if name is not None else "binary data"
            raise GanforgeError(f"Checkpoint pointer {str(pointer)!r} holds {shown}; expected the name of a step_XXXXXXXX "
                                f"folder inside {str(self.root)!r} (checkpoints are only read from inside their run).")
        return name

    def remove_leftovers(self) -> list[Path]:
        """Remove what checkpoint and export writes of dead processes left half-written; return it."""
        return remove_leftovers(self.root) + remove_leftovers(self.root.parent)


def read_checkpoint(folder: Path) -> dict[str, Any]:
    """Load a checkpoint folder, checking that it is one of ours."""
    meta_path = Path(folder) / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        raise GanforgeError(f"Checkpoint {str(folder)!r} has no readable meta.json; expected a ganforge checkpoint folder.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GanforgeError(f"Checkpoint {str(folder)!r} has format {meta.get('format') if isinstance(meta, dict) else meta!r}; expected {FORMAT!r}.")
    for part in [Path(folder)] + [Path(folder) / n for n in ("meta.json", "state.json", "state.safetensors")]:
        if part.is_symlink():
            raise GanforgeError(f"Checkpoint file {str(part)!r} is a symbolic link; expected the files ganforge wrote, "
                                "inside their run.")
    return load_state(Path(folder))


def read_training_state(folder: Path) -> dict[str, Any]:
    """Load a trainer's checkpoint folder and check its sections against the schema of `check_state`."""
    state = read_checkpoint(folder)
    check_state(state, Path(folder))
    return state


_SECTIONS = {"step": int, "elapsed_seconds": (int, float), "family": str, "game": dict, "source": dict, "rng": dict}


def check_state(state: Any, where: Path) -> None:
    """Refuse a checkpoint state whose sections are missing, of the wrong type or out of range, in one sentence."""
    def bad(what: str, expected: str) -> GanforgeError:
        return GanforgeError(f"Checkpoint {str(where)!r} has {what}; expected {expected} (state.json was edited or damaged).")

    if not isinstance(state, dict):
        raise bad(f"a state of type {type(state).__name__}", "a mapping of sections")
    for key, kind in _SECTIONS.items():
        if key not in state:
            raise bad(f"no {key!r} section", f"the sections {', '.join(_SECTIONS)}")
        value = state[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            raise bad(f"{key}={value!r:.60}", f"a {kind.__name__ if isinstance(kind, type) else 'number'}")
    if state["step"] < 0 or not math.isfinite(state["elapsed_seconds"]) or state["elapsed_seconds"] < 0:
        raise bad(f"step {state['step']} and elapsed_seconds {state['elapsed_seconds']}", "a step >= 0 and finite seconds >= 0")
    rng = state["rng"].get("torch")
    expected = torch.get_rng_state()
    if not isinstance(rng, torch.Tensor) or rng.dtype != expected.dtype or rng.shape != expected.shape:
        raise bad(f"a torch RNG state of {getattr(rng, 'dtype', type(rng).__name__)} {tuple(getattr(rng, 'shape', ()))}",
                  f"a {expected.dtype} tensor of {expected.numel()} bytes")
    if "ema" in state and not isinstance(state["ema"], dict):
        raise bad(f"ema of type {type(state['ema']).__name__}", "a mapping")
