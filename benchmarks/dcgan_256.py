"""DCGAN at 256 px with and without the channel ceiling: seconds per round, peak memory, checkpoint size.

Prepares the 256 px Oxygen icons (`apt-get install oxygen-icon-theme`) once, then trains DCGAN at
batch 8 from that prepared set for a few rounds in a fresh process per setting (`channel_max=0`, the
width doubling without limit as before the ceiling, and the default 512), and reads each run's
seconds per round (the logged training time over the rounds after the first), the process's peak
RSS and the size of its checkpoint folder.

    python benchmarks/dcgan_256.py --steps 12
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from machine import describe  # noqa: E402

ICONS = Path("/usr/share/icons/oxygen")
GANFORGE = [sys.executable, "-m", "ganforge"]
# the command line in a child that reports its own peak RSS (kB) on its last stderr line
MEASURED = [sys.executable, "-c", "import resource, sys\nfrom ganforge.cli import main\ntry:\n    code = main(sys.argv[1:])\n"
            "finally:\n    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(code)"]


def icons_folder(work: Path) -> Path:
    """A flat folder of links to the 256 px Oxygen icons."""
    folder = work / "icons256"
    folder.mkdir()
    for i, path in enumerate(sorted(ICONS.rglob("256x256/*/*.png"))):
        (folder / f"{i:04d}.png").symlink_to(path)
    return folder


def train(data: Path, out: Path, steps: int, channel_max: int) -> dict:
    """One short run in a child process; its seconds per round, peak RSS and checkpoint size."""
    done = subprocess.run([*MEASURED, "train", "--model", "dcgan", "--data", str(data), "--image-size", "256", "--batch-size", "8",
                    "--steps", str(steps), "--out", str(out), "--name", f"cmax{channel_max}", "--no-progress",
                    "--option", f"channel_max={channel_max}", "--set", "log_every=1", "--set", "copy_check_n=0"],
                          check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    run = out / f"cmax{channel_max}"
    times = [json.loads(line)["time"] for line in (run / "metrics.jsonl").read_text().splitlines() if '"time"' in line]
    checkpoint = max((run / "checkpoints").glob("step_*"))
    return {"channel_max": channel_max, "s_per_round": (times[-1] - times[0]) / (len(times) - 1),
            "peak_rss_gb": peak_kb / 1e6, "checkpoint_mb": sum(f.stat().st_size for f in checkpoint.rglob("*") if f.is_file()) / 1e6}


def main() -> None:
    """Print one row per setting."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "prepared"
        subprocess.run([*GANFORGE, "prepare", str(icons_folder(work)), "--out", str(data), "--size", "256", "--no-progress"],
                       check=True, stdout=subprocess.DEVNULL)
        for channel_max in (0, 512):
            print(json.dumps(train(data, work / "runs", args.steps, channel_max)))


if __name__ == "__main__":
    main()
