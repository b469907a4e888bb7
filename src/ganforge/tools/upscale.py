"""`ganforge upscale`: upscale image files with an exported super-resolution model, tile by tile.

Each image goes through the generator in overlapping tiles (``--tile`` LR pixels, ``--overlap``
pixels shared with each neighbour) whose outputs are blended with linear ramps, so there are no
seams and memory stays bounded: only one band of tiles is summed in float at a time, and the output
is written into one uint8 array. Colour images go through the model as they are; a grayscale image
goes through a colour model as gray RGB and comes back gray (ITU-R 601 luma); a transparent image
keeps its alpha channel, upscaled with MATLAB's bicubic kernel. Writes ``<stem>-x<scale>.png``.

With ``--side-by-side`` it also writes ``<stem>-side-by-side.png``: a central crop shown as bicubic |
model, and | original when the inputs are originals (``--degrade``: each input is first downscaled by
the scale as the model was trained, and the original is known).

A video or an animation (found by probing the file's container, `ganforge.data.video`) is upscaled
frame by frame into a video file: ``--out clip_x4.mp4``, or ``<stem>-x<scale><suffix>`` in an
``--out`` folder; frames are streamed, their time stamps kept and the audio copied. Tiles run
``--batch`` at a time, under bf16 autocast where the hardware runs it fast (``--precision``).
"""
from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from PIL import Image
from torch import Tensor, nn

from ganforge import arguments
from ganforge.data.dataset import to_float, to_uint8
from ganforge.data.images import ORIENTATION_TRANSPOSE, exif_orientation, read_header, to_8bit
from ganforge.data.superres import bicubic_upscale, degrade, imresize
from ganforge.data.video import OUTPUT_FORMATS, VIDEO_SUFFIXES, Clip, not_a_clip, output_format, probe_clip, transcode
from ganforge.errors import GanforgeError
from ganforge.export import load_generator
from ganforge.kinds import kind_of
from ganforge.sampling import bf16_is_fast, check_pass_fits
from ganforge.tools.checks import collect_inputs
from ganforge.tools.outputs import add_force, claim_outputs, output_folder, removed_on_failure

_LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, Pillow's "L"
BATCH = 1  #: tiles per forward pass by default: batching gained nothing on a 2-core CPU (benchmarks/video_upscale.py); GPUs may want more
PRECISIONS = ("auto", "fp32", "bf16")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `ganforge upscale`."""
    parser.add_argument("model", metavar="MODEL_OR_RUN", help="exported super-resolution model folder, or run folder")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files and/or folders of images; video or animated GIF/WebP files")
    parser.add_argument("--out", type=arguments.output_path, required=True, metavar="DIR",
                        help="folder for <stem>-x<scale>.png (and side-by-side crops); for one video input, the output video file (e.g. clip_x4.mp4)")
    parser.add_argument("--tile", type=arguments.non_negative_int, default=128, help="tile side in input pixels (default 128; 0: the whole image at once)")
    parser.add_argument("--overlap", type=arguments.non_negative_int, default=None,
                        help="input pixels each tile shares with its neighbours (default: a quarter of the tile, at most 32)")
    parser.add_argument("--scale", type=arguments.positive_int, default=None, help="the factor wanted; must be the model's (default: the model's)")
    parser.add_argument("--side-by-side", action="store_true", help="also write a central crop: bicubic | model (| original with --degrade)")
    parser.add_argument("--crop", type=arguments.positive_int, default=256, help="side of the side-by-side crop in output pixels (default 256)")
    parser.add_argument("--degrade", action="store_true", help="inputs are originals: downscale each by the scale first (as in training), "
                        "so the side-by-side crop can show the original")
    parser.add_argument("--batch", type=arguments.positive_int, default=BATCH, help=f"tiles per forward pass (default {BATCH})")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="auto (default: bf16 autocast where the hardware runs it fast, else fp32), fp32 or bf16")
    parser.add_argument("--device", type=arguments.device, default="cpu")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_force(parser)


def read_image(path: Path) -> tuple[np.ndarray, Optional[np.ndarray]]:
    """(pixels (H, W, C) uint8 with C 1 or 3, alpha (H, W) uint8 or None) of an image file, upright."""
    try:
        with Image.open(path) as im:
            orientation = exif_orientation(im)
            im.load()
            alpha = None
            if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
                rgba = im.convert("RGBA")
                alpha = np.asarray(rgba)[..., 3].copy()
                gray = im.mode in ("LA", "La") or (im.mode == "L")
                im = rgba.convert("L" if gray else "RGB")
            image = to_8bit(im)
            if orientation != 1:
                image = image.transpose(ORIENTATION_TRANSPOSE[orientation])
                if alpha is not None:
                    alpha = np.array(Image.fromarray(alpha).transpose(ORIENTATION_TRANSPOSE[orientation]))
            array = np.array(image)
    except Exception as exc:  # Pillow raises several types for bad files
        raise GanforgeError(f"Image file {str(path)!r} could not be read ({type(exc).__name__}); "
                            "expected a complete PNG, JPEG, WebP or BMP image.") from None
    return (array[..., None] if array.ndim == 2 else array), alpha


def check_model(info: dict, scale: Optional[int], where: str) -> int:
    """The model's scale, after refusing a model that is not super-resolution or a --scale it was not trained for."""
    if kind_of(info).name != "superres":
        raise GanforgeError(f"Model {where!r} is a {info.get('family', 'noise')!r} model, not a super-resolution model; "
                            "expected one trained with --model srgan.")
    trained = int(info["scale"])
    if scale is not None and scale != trained:
        raise GanforgeError(f"Scale {scale} is not what model {where!r} was trained for; expected --scale {trained} (or none).")
    return trained


def _through_model(pixels: np.ndarray, model_channels: int) -> Tensor:
    """float [-1, 1] (B, model_channels, H, W) input for the model, B > 1 when a 1-channel model takes each colour apart."""
    x = to_float(torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1))
    if x.shape[0] == model_channels:
        return x[None]
    if model_channels == 3:  # gray image, colour model
        return x.expand(3, -1, -1)[None]
    return x[:, None]  # colour image, gray model: each channel on its own


def upscale_array(generator: nn.Module, pixels: np.ndarray, scale: int, tile: int, overlap: int, channels: int,
                  progress=None, batch: int = 1) -> np.ndarray:
    """(H·s, W·s, C) uint8 SR of (H, W, C) uint8 pixels, tile by tile, written band by band into the result."""
    from ganforge.models.srgan import upscale_tiled

    h, w, c = pixels.shape
    result = np.empty((h * scale, w * scale, c), dtype=np.uint8)
    inputs = _through_model(pixels, channels)
    size = tile if tile > 0 else max(h, w)
    for k in range(inputs.shape[0]):
        def emit(top: int, rows: Tensor, k: int = k) -> None:
            out = to_uint8(rows).permute(1, 2, 0).numpy()  # (rows, W·s, model channels)
            span = slice(top, top + out.shape[0])
            if inputs.shape[0] > 1:  # one colour channel of a gray model
                result[span, :, k] = out[..., 0]
            elif out.shape[-1] == c:
                result[span] = out
            else:  # a gray image through a colour model: back to luma
                luma = (rows.add(1).mul(127.5) * torch.tensor(_LUMA).view(3, 1, 1)).sum(0).round_().clamp_(0, 255)
                result[span, :, 0] = luma.to(torch.uint8).numpy()

        upscale_tiled(generator, inputs[k], scale, size, min(overlap, size - 1), emit=emit, progress=progress, batch=batch)
    return result


def upscale_alpha(alpha: np.ndarray, scale: int) -> np.ndarray:
    """The alpha channel upscaled with MATLAB's bicubic kernel, uint8."""
    x = torch.from_numpy(alpha).float()
    return imresize(x, float(scale)).round_().clamp_(0, 255).to(torch.uint8).numpy()


def tile_count(h: int, w: int, tile: int, overlap: int, passes: int) -> int:
    """Tiles the model runs on for an (h, w) input."""
    from ganforge.models.srgan import tile_grid

    size = tile if tile > 0 else max(h, w)
    return len(tile_grid(h, w, size, min(overlap, size - 1))) * passes


def side_by_side(panels: list[tuple[str, np.ndarray]], path: Path) -> None:
    """One row of labelled panels (H, W, C uint8), written as PNG."""
    from PIL import ImageDraw

    h, w = panels[0][1].shape[:2]
    label, gap = 16, 4
    sheet = Image.new("RGB", (len(panels) * (w + gap) - gap, h + label), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (name, array) in enumerate(panels):
        tile = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array).convert("RGB")
        sheet.paste(tile, (i * (w + gap), label))
        draw.text((i * (w + gap) + 2, 2), name, fill="black")
    sheet.save(path)


def bicubic_crop(pixels: np.ndarray, scale: int, top: int, left: int, side: int, margin: int = 4) -> np.ndarray:
    """The (side, side, C) uint8 part at output (top, left) of the bicubic upscaling of LR pixels, computed on that part alone."""
    y0, x0 = max(0, top // scale - margin), max(0, left // scale - margin)
    y1 = min(pixels.shape[0], (top + side) // scale + margin)
    x1 = min(pixels.shape[1], (left + side) // scale + margin)
    part = to_float(torch.from_numpy(np.ascontiguousarray(pixels[y0:y1, x0:x1])).permute(2, 0, 1))[None]
    up = to_uint8(bicubic_upscale(part, scale)[0]).permute(1, 2, 0).numpy()
    dy, dx = top - y0 * scale, left - x0 * scale
    return up[dy:dy + side, dx:dx + side]


def _center(shape: tuple[int, int], side: int, scale: int) -> tuple[int, int, int]:
    """(top, left, side) in output pixels of a central crop, multiples of the scale, inside an output of `shape`."""
    side = max(scale, min(side, shape[0], shape[1]) // scale * scale)
    top = (shape[0] - side) // 2 // scale * scale
    left = (shape[1] - side) // 2 // scale * scale
    return top, left, side


def _tiling(tile: int, overlap: Optional[int], batch: int, crop: int, precision: str) -> int:
    """The overlap (default: a quarter of the tile, at most 32), once tile, overlap, batch, crop and precision are valid."""
    if overlap is None:
        overlap = min(32, tile // 4)
    if tile < 0 or overlap < 0 or (tile and overlap >= tile) or batch < 1 or crop < 1:
        raise GanforgeError(f"Tile {tile}, overlap {overlap}, batch {batch} or crop {crop} is invalid; expected tile >= 0 (0: whole), "
                            "0 <= overlap < tile, batch >= 1 and crop >= 1.")
    if precision not in PRECISIONS:
        raise GanforgeError(f"Precision {precision!r} is unknown; expected one of {', '.join(PRECISIONS)}.")
    return overlap


def autocast(precision: str, device: str | torch.device):
    """bf16 autocast for "bf16", and for "auto" where the device runs bf16 fast (`bf16_is_fast`); else fp32."""
    device = torch.device(device)
    use = precision == "bf16" or (precision == "auto" and bf16_is_fast(device))
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=use)


def upscale_files(model: str | Path, inputs: Sequence[str | Path], out: str | Path, tile: int = 128, overlap: Optional[int] = None,
                  scale: Optional[int] = None, compare: bool = False, crop: int = 256, degrade_inputs: bool = False,
                  device: str = "cpu", progress: bool = True, batch: int = BATCH, force: bool = False, precision: str = "auto") -> list[Path]:
    """Upscale image files (or folders of them) into `out`; return the written upscaled PNGs."""
    overlap = _tiling(tile, overlap, batch, crop, precision)
    out = output_folder(Path(out))
    generator, info = load_generator(model, device)
    factor = check_model(info, scale, str(model))
    channels = int(info.get("channels", 3))
    files = collect_inputs(inputs)
    headers = [read_header(f) for f in files]  # every input is checked before anything is written
    for f, head in zip(files, headers):
        side_h, side_w = (min(tile, head.height), min(tile, head.width)) if tile else (head.height, head.width)
        check_pass_fits(generator, batch, side_h, side_w, torch.device(device), f"Upscaling {str(f)!r}",
                        "--tile > 0 processes it tile by tile" if not tile else "a smaller --tile or --batch", factor)
    if degrade_inputs:
        for f, head in zip(files, headers):
            if head.height < 2 * factor or head.width < 2 * factor:
                raise GanforgeError(f"Image {str(f)!r} is {head.width}x{head.height}; expected at least {2 * factor} px "
                                    f"a side to downscale by {factor} (--degrade).")
    targets = [out / f"{f.stem}-x{factor}.png" for f in files]
    crops = [out / f"{f.stem}-side-by-side.png" for f in files] if compare else []
    claim_outputs(targets + crops, files, force=force)
    bar = None
    if progress:
        from tqdm import tqdm

        def lr_shape(head) -> tuple[int, int]:
            return (head.height // factor, head.width // factor) if degrade_inputs else (head.height, head.width)

        total = sum(tile_count(*lr_shape(head), tile, overlap, 3 if channels == 1 and not head.gray else 1) for head in headers)
        bar = tqdm(total=total, unit="tile", desc="upscale", dynamic_ncols=True)
    written = []
    try:
        for path, target in zip(files, targets):
            pixels, alpha = read_image(path)
            original = None
            if degrade_inputs:
                h, w = pixels.shape[0] // factor * factor, pixels.shape[1] // factor * factor
                original, alpha = pixels[:h, :w], (alpha[:h, :w] if alpha is not None else None)
                hr = to_float(torch.from_numpy(np.ascontiguousarray(original)).permute(2, 0, 1))[None]
                pixels = to_uint8(degrade(hr, factor)[0]).permute(1, 2, 0).numpy()
                alpha = to_uint8(degrade(to_float(torch.from_numpy(alpha)[None, None]), factor)[0]).numpy()[0] if alpha is not None else None
            with autocast(precision, device):
                result = upscale_array(generator, pixels, factor, tile, overlap, channels, bar.update if bar else None, batch)
            if alpha is not None:
                a = upscale_alpha(alpha, factor)[..., None]
                picture = Image.fromarray(np.concatenate([np.repeat(result, 3, 2) if result.shape[2] == 1 else result, a], 2), "RGBA")
                if result.shape[2] == 1:
                    picture = picture.convert("LA")
            else:
                picture = Image.fromarray(result[..., 0] if result.shape[2] == 1 else result)
            with removed_on_failure([target]):  # no truncated file left by a full disk or Ctrl-C
                picture.save(target, compress_level=3)
            del picture
            written.append(target)
            if compare:
                top, left, side = _center(result.shape[:2], crop, factor)
                box = (slice(top, top + side), slice(left, left + side))
                panels = [("bicubic", bicubic_crop(pixels, factor, top, left, side)), ("model", result[box])]
                if original is not None:
                    panels.append(("original", original[box]))
                with removed_on_failure([out / f"{path.stem}-side-by-side.png"]):
                    side_by_side(panels, out / f"{path.stem}-side-by-side.png")
    finally:
        if bar is not None:
            bar.close()
    return written


def split_clips(inputs: Sequence[str | Path]) -> tuple[list[Clip], list[str | Path]]:
    """(the videos and animations among the input files, found by probing their content; the other inputs)."""
    clips, others = [], []
    for item in inputs:
        path = Path(item).expanduser()
        clip = probe_clip(path) if path.is_file() else None
        if clip is not None:
            clips.append(clip)
        elif path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES and path.suffix.lower() != ".webp":
            raise not_a_clip(path)
        else:
            others.append(item)
    return clips, others


def names_file(out: Path) -> bool:
    """Whether `--out` names an output video file (it has a suffix and is no existing folder) rather than a folder."""
    return bool(out.suffix) and not out.is_dir()


def video_target(clip: Clip, out: Path, factor: int) -> Path:
    """`out` when it names a file of a container written (else an error), or `<stem>-x<factor><suffix>` in the folder
    `out`, the input's suffix kept when its container is written, else MP4."""
    if names_file(out):
        output_format(out)
        return out
    suffix = clip.path.suffix.lower() if clip.path.suffix.lower() in OUTPUT_FORMATS else ".mp4"
    return output_folder(out) / f"{clip.path.stem}-x{factor}{suffix}"


def upscale_video(model: str | Path, clip: Clip | str | Path, out: str | Path, tile: int = 128, overlap: Optional[int] = None,
                  scale: Optional[int] = None, device: str = "cpu", progress: bool = True, batch: int = BATCH,
                  precision: str = "auto", force: bool = False) -> tuple[Path, str]:
    """Upscale a video or animation frame by frame into a video file (`out`, or a file in the folder `out`); return
    (the file written, what happened to the audio)."""
    overlap = _tiling(tile, overlap, batch, 1, precision)
    if not isinstance(clip, Clip):
        probed = probe_clip(Path(clip))
        if probed is None:
            raise not_a_clip(Path(clip))
        clip = probed
    generator, info = load_generator(model, device)
    factor = check_model(info, scale, str(model))
    channels = int(info.get("channels", 3))
    target = video_target(clip, Path(out), factor)
    side_h, side_w = (min(tile, clip.height), min(tile, clip.width)) if tile else (clip.height, clip.width)
    check_pass_fits(generator, batch, side_h, side_w, torch.device(device), f"Upscaling {str(clip.path)!r}",
                    "--tile > 0 processes it tile by tile" if not tile else "a smaller --tile or --batch", factor)
    claim_outputs([target], [clip.path], force=force)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=clip.frames, unit="frame", desc="upscale", dynamic_ncols=True)

    def frame(pixels: np.ndarray) -> np.ndarray:
        return upscale_array(generator, pixels, factor, tile, overlap, channels, None, batch)

    try:
        with autocast(precision, device):
            audio = transcode(clip, target, frame, factor, bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    return target, audio


def run(args: argparse.Namespace) -> int:
    """Upscale and say where the results are."""
    clips, images = split_clips(args.images)
    out = Path(args.out)
    if clips and names_file(out) and (len(clips) > 1 or images):
        raise GanforgeError(f"Output {args.out!r} names one video file but {len(clips) + len(images)} inputs were given; "
                            "expected one video input, or --out naming a folder.")
    if clips and (args.degrade or args.side_by_side):
        raise GanforgeError(f"Input {str(clips[0].path)!r} is a video, which --degrade and --side-by-side do not apply to; "
                            "expected those options with image inputs only.")
    force = getattr(args, "force", False)
    if images:
        written = upscale_files(args.model, images, args.out, args.tile, args.overlap, args.scale, args.side_by_side, args.crop,
                                args.degrade, args.device, not args.no_progress, args.batch, force, args.precision)
        print(f"wrote {len(written)} upscaled image(s) to {args.out}")
    for clip in clips:
        target, audio = upscale_video(args.model, clip, out, args.tile, args.overlap, args.scale, args.device, not args.no_progress,
                                      args.batch, args.precision, force)
        print(f"wrote {target} (audio: {audio})")
    return 0
