"""Video upscaling speed and memory: seconds per 1080p frame at x4 and peak RSS, one tile at a time in fp32 against
batched tiles in fp32 and in bf16 autocast, and one tile at a time in bf16 (`ganforge upscale`'s default where the CPU
has native bf16).

The generator is the CPU configuration of docs/superres.md's quick start (4 RRDB blocks, 32 features, growth 16,
x4), randomly initialised: timing does not depend on the weights. A short 1080p H.264 clip with an AAC sine is
made from a photo (frames shifted by a few pixels), then each configuration runs `upscale_video` (decode, tiles
of 128 LR px overlapping by 32, encode to H.264, audio copied) in its own process, which reports its wall time
and peak RSS. A probe first times the generator alone on 128-px tiles at several batch sizes, and measures how far
batched bf16 output is from one-tile fp32 output; a last run without a model (x4 pixel repetition) over a longer
clip measures decoding and encoding alone, once the encoder's lookahead is full.

    flock /tmp/heavy.lock env OMP_NUM_THREADS=2 python benchmarks/video_upscale.py --frames 1
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import describe  # noqa: E402

from ganforge.export import save_players  # noqa: E402
from ganforge.models.srgan import RRDBGenerator  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PHOTO = Path("/usr/share/backgrounds/mate/abstract/Elephants.jpg")
CONFIGS = {"one tile, fp32": (1, "fp32"), "batched, fp32": (None, "fp32"), "batched, bf16": (None, "bf16"),
           "one tile, bf16": (1, "bf16")}


def make_model(folder: Path) -> Path:
    """An x4 srgan export of the quick start's CPU size with random weights (the last conv drawn N(0, 0.05), as the
    tests do, so that the model's correction to the bilinear upscaling is not near zero)."""
    torch.manual_seed(0)
    generator = RRDBGenerator(3, 32, 4, 16, 4)
    for p in generator.last.parameters():
        p.data.normal_(0, 0.05)
    info = {"kind": "superres", "family": "srgan", "scale": 4, "channels": 3, "image_size": 128}
    return save_players({"generator": generator}, info, folder / "model")


def make_clip(path: Path, frames: int, fps: int = 24) -> Path:
    """`frames` 1920x1080 frames of a photo (or a pattern), a few pixels apart, with a sine as AAC audio."""
    import av
    from PIL import Image

    if PHOTO.is_file():
        base = np.asarray(Image.open(PHOTO).convert("RGB").resize((1960, 1100)))
    else:
        y, x = np.mgrid[0:1100, 0:1960]
        base = np.stack([x % 256, y % 256, (x + y) % 256], -1).astype(np.uint8)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 1920, 1080, "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        audio.layout = "stereo"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[2 * i:2 * i + 1080, 3 * i:3 * i + 1920]), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        n = 48000 * frames // fps
        wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / 48000)).astype(np.float32)
        for start in range(0, n, 1024):
            part = np.ascontiguousarray(np.repeat(wave[None, start:start + 1024], 2, 0))
            samples = av.AudioFrame.from_ndarray(part, format="fltp", layout="stereo")
            samples.sample_rate, samples.pts, samples.time_base = 48000, start, Fraction(1, 48000)
            out.mux(audio.encode(samples))
        out.mux(audio.encode(None))
    return path


def probe_tiles(model: Path, batches: list[int], tiles: int) -> dict:
    """Seconds per 128-px tile of the generator alone, per (precision, batch), after one warm-up pass."""
    from ganforge.export import load_generator

    generator, _ = load_generator(model)
    x = torch.rand(max(batches), 3, 128, 128) * 2 - 1
    out = {}
    for precision in ("fp32", "bf16"):
        for batch in batches:
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                generator(x[:batch])
                start = time.perf_counter()
                for _ in range(max(1, tiles // batch)):
                    generator(x[:batch])
                seconds = (time.perf_counter() - start) / (max(1, tiles // batch) * batch)
            out[f"{precision}, batch {batch}"] = round(seconds, 4)
            print(f"  tile probe {precision} batch {batch}: {seconds:.3f} s per tile", flush=True)
    return out


def bf16_difference(model: Path, batch: int) -> dict:
    """Mean and max absolute difference in 8-bit levels between batched bf16 and one-tile fp32 outputs of a 384x256 crop."""
    from PIL import Image

    from ganforge.export import load_generator
    from ganforge.tools.upscale import autocast, upscale_array

    generator, _ = load_generator(model)
    if PHOTO.is_file():
        pixels = np.asarray(Image.open(PHOTO).convert("RGB"))[400:656, 800:1184]
    else:
        pixels = np.random.default_rng(0).integers(0, 256, (256, 384, 3), dtype=np.uint8)
    with autocast("fp32", "cpu"):
        single = upscale_array(generator, pixels, 4, 128, 32, 3, batch=1).astype(int)
    with autocast("bf16", "cpu"):
        batched = upscale_array(generator, pixels, 4, 128, 32, 3, batch=batch).astype(int)
    diff = np.abs(batched - single)
    out = {"mean_levels": round(float(diff.mean()), 3), "max_levels": int(diff.max()), "share_unchanged": round(float((diff == 0).mean()), 3)}
    print(f"  bf16 batched vs fp32 one tile: {out}", flush=True)
    return out


def child(model: str, clip: str, target: str, batch: int, precision: str) -> None:
    """Upscale the clip in this process (model "nearest": pixel repetition, no model, to measure decoding and
    encoding alone); print wall seconds, frames and peak RSS as JSON."""
    from ganforge.tools.upscale import upscale_video

    start = time.perf_counter()
    if model == "nearest":
        from ganforge.data.video import probe_clip, transcode

        audio = transcode(probe_clip(Path(clip)), Path(target), lambda x: x.repeat(4, 0).repeat(4, 1), 4)
    else:
        _, audio = upscale_video(model, clip, target, tile=128, overlap=32, batch=batch, precision=precision, progress=False, force=True)
    seconds = time.perf_counter() - start
    import av

    with av.open(target) as c:
        frames = c.streams.video[0].frames
        size = (c.streams.video[0].codec_context.width, c.streams.video[0].codec_context.height)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "frames": frames, "size": size, "audio": audio, "peak_rss_mib": rss / 2 ** 20}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1, help="1080p frames per configuration (default 1)")
    parser.add_argument("--batch", type=int, default=4, help="tiles per pass of the batched runs (default 4)")
    parser.add_argument("--encode-frames", type=int, default=24,
                        help="frames of the run without a model that measures the encoder's memory once its lookahead is full (default 24)")
    parser.add_argument("--probe-tiles", type=int, default=16, help="tiles per probe measurement (default 16)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "video_upscale.json")
    parser.add_argument("--child", nargs=5, metavar=("MODEL", "CLIP", "TARGET", "BATCH", "PRECISION"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child[:3], int(args.child[3]), args.child[4])
        return
    batch = args.batch
    results = {"machine": describe(), "frames": args.frames, "batch": batch, "tile": 128, "overlap": 32, "runs": {}}
    print(results["machine"], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        model = make_model(Path(tmp))
        clip = make_clip(Path(tmp) / "clip.mp4", args.frames)
        results["tile_probe"] = probe_tiles(model, sorted({1, 2, 4, 8, batch}), args.probe_tiles)
        results["bf16_difference"] = bf16_difference(model, batch)
        for label, (size, precision) in CONFIGS.items():
            command = [sys.executable, __file__, "--child", str(model), str(clip), str(Path(tmp) / "out.mp4"), str(size or batch), precision]
            run = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
            run["seconds_per_frame"] = run["seconds"] / args.frames
            results["runs"][label] = run
            print(f"  {label:16s} batch {size or batch}: {run['seconds_per_frame']:.1f} s per frame, peak RSS {run['peak_rss_mib']:.0f} MiB, "
                  f"{run['frames']} frames {run['size'][0]}x{run['size'][1]}, audio {run['audio']}", flush=True)
        encoding = make_clip(Path(tmp) / "long.mp4", args.encode_frames)
        command = [sys.executable, __file__, "--child", "nearest", str(encoding), str(Path(tmp) / "long-out.mp4"), "1", "fp32"]
        run = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        run["seconds_per_frame"] = run["seconds"] / args.encode_frames
        results["decode_encode_only"] = run
        print(f"  decoding + x4 pixel repetition + encoding, {args.encode_frames} frames: {run['seconds_per_frame']:.2f} s per frame, "
              f"peak RSS {run['peak_rss_mib']:.0f} MiB", flush=True)
    base = results["runs"]["one tile, fp32"]["seconds_per_frame"]
    for run in results["runs"].values():
        run["speed_up"] = round(base / run["seconds_per_frame"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: {m: round(v, 2) if isinstance(v, float) else v for m, v in r.items()} for k, r in results["runs"].items()}, indent=2))


if __name__ == "__main__":
    main()
