"""Checkpoint folders written atomically: a kill at any moment leaves the last good one loadable."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Optional

from ganforge.atomic import write_folder_atomic, write_text_atomic
from ganforge.errors import GanforgeError
from ganforge.train.state_io import load_state, save_state

FORMAT = "ganforge-checkpoint/1"


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
        """The newest complete step checkpoint, or None."""
        pointer = self.root / "latest"
        if pointer.is_file():
            candidate = self.root / pointer.read_text().strip()
            if (candidate / "meta.json").is_file():
                return candidate
        complete = sorted(p for p in self.root.glob("step_*") if (p / "meta.json").is_file())
        return complete[-1] if complete else None


def read_checkpoint(folder: Path) -> dict[str, Any]:
    """Load a checkpoint folder, checking that it is one of ours."""
    meta_path = Path(folder) / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        raise GanforgeError(f"Checkpoint {str(folder)!r} has no readable meta.json; expected a ganforge checkpoint folder.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GanforgeError(f"Checkpoint {str(folder)!r} has format {meta.get('format') if isinstance(meta, dict) else meta!r}; expected {FORMAT!r}.")
    return load_state(Path(folder))
