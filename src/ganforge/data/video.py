"""Video and animation files frame by frame: probe, decode, transform, encode, with the audio copied.

Decoding and encoding go through PyAV (the `video` extra), whose wheel bundles FFmpeg's libraries, so
no system ffmpeg is needed. Animated WebP is read with Pillow (FFmpeg's WebP decoder reads still
pictures only) and written with libwebp through PyAV. A clip is streamed: one decoded frame, its
transform and the encoder's few buffered frames are held, never the clip. Frames keep their time
stamps (the input's time base and pts), so frame rate, variable frame timing and duration are kept.
Frames are RGB (transparency is not kept), converted from YUV by their own colour matrix; H.264,
VP9 and MPEG-4 output is BT.709, limited range, tagged as such. The audio packets are copied as they
are (remuxed) when the output container can hold their codec, else re-encoded to the container's
default audio codec; GIF and WebP hold no sound.
"""
from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from PIL import Image

from ganforge.atomic import file_written_atomically
from ganforge.errors import GanforgeError

EXTRA = "video"  #: pip install "ganforge[video]"
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".webp")
#: x264 at CRF 18 (visually near-lossless); a 4-frame lookahead (x264's default: 40), no threaded lookahead buffer and
#: 2 threads bound the 4K frames it holds (2.0 GiB at 4K against 2.5 with a 10-frame lookahead, files 3.5 % larger)
_X264 = {"crf": "18", "preset": "medium", "x264-params": "rc-lookahead=4:sync-lookahead=0:threads=2"}
#: output suffix -> (FFmpeg container, video encoder, encoder options)
OUTPUT_FORMATS = {
    ".mp4": ("mp4", "libx264", _X264),
    ".m4v": ("mp4", "libx264", _X264),
    ".mov": ("mov", "libx264", _X264),
    ".mkv": ("matroska", "libx264", _X264),
    ".webm": ("webm", "libvpx-vp9", {"crf": "24", "b": "0", "row-mt": "1"}),
    ".avi": ("avi", "mpeg4", {"flags": "+qscale", "global_quality": str(2 * 118)}),  # quantiser 2 (FF_QP2LAMBDA = 118)
    ".gif": ("gif", "gif", {}),
    ".webp": ("webp", "libwebp_anim", {"lossless": "0", "quality": "90"}),
}
_BT709, _LIMITED = 1, 1  # FFmpeg's AVCOL_SPC_BT709 and AVCOL_RANGE_MPEG
_MUXER_OPTIONS = {"webp": {"loop": "0"}, "gif": {"loop": "0"}}  # animations loop forever, as GIF and WebP viewers expect
_STILL_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "tiff_pipe")
_TEXT_FORMATS = ("tty", "bin", "xbin", "idf", "adf")  # FFmpeg's demuxers that render text files (ANSI art) as video
_EXPECTED = "expected a video (MP4, MOV, MKV, WebM, AVI) or an animated GIF/WebP"


def require_av():
    """The imported PyAV module, or a clear error naming the extra to install."""
    try:
        return importlib.import_module("av")
    except ImportError:
        raise GanforgeError(f"Package 'av' (PyAV) is not installed; expected the optional extra: pip install \"ganforge[{EXTRA}]\".") from None


@dataclass(frozen=True)
class Clip:
    """What a probe learnt of a video or animation file."""

    path: Path
    width: int
    height: int
    frames: Optional[int]  #: frame count when the container says (or, for animations, counts) it
    rate: Optional[Fraction]  #: average frames per second when known
    audio: Optional[str]  #: codec of the first audio stream, None without one
    reader: str  #: "av" or "pillow" (animated WebP)


def probe_clip(path: Path) -> Optional[Clip]:
    """The clip in `path`, found by reading its content; None for a still image or a file neither Pillow nor
    FFmpeg can read (the image path then names the problem); an error for a container without video."""
    path = Path(path)
    try:
        with Image.open(path) as im:
            if not getattr(im, "is_animated", False):
                return None
            if im.format == "WEBP":
                return Clip(path, im.width, im.height, int(im.n_frames), None, None, "pillow")  # frame timing is read per frame
    except Exception:  # not something Pillow reads: a video, or not a picture at all
        pass
    if importlib.util.find_spec("av") is None and path.suffix.lower() not in VIDEO_SUFFIXES:
        return None
    av = require_av()
    try:
        with av.open(str(path)) as container:
            if container.format.name in _STILL_FORMATS or container.format.name in _TEXT_FORMATS:
                return None
            if not container.streams.video:
                raise GanforgeError(f"File {str(path)!r} holds no video stream ({container.format.name} container); {_EXPECTED}.")
            video = container.streams.video[0]
            audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
            return Clip(path, video.codec_context.width, video.codec_context.height, video.frames or None,
                        video.average_rate or video.guessed_rate, audio, "av")
    except av.FFmpegError:
        return None


def not_a_clip(path: Path) -> GanforgeError:
    """The one-sentence error for a file named like a video that is none."""
    return GanforgeError(f"Input {str(path)!r} is not a video or animation that FFmpeg or Pillow can read; {_EXPECTED}.")


def output_format(path: Path) -> tuple[str, str, dict]:
    """(container, encoder, options) for an output file, from its suffix; an error for one not written."""
    fmt = OUTPUT_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise GanforgeError(f"Output {str(path)!r} is in no container ganforge writes video to; expected a name ending in "
                            f"{', '.join(OUTPUT_FORMATS)}.")
    return fmt


# --- reading -------------------------------------------------------------------------------------

@dataclass
class _Frame:
    pixels: np.ndarray  #: (H, W, 3) uint8 RGB
    pts: int
    duration: Optional[int]


def _pillow_frames(path: Path) -> Iterator[_Frame]:
    """Frames of an animated WebP with time stamps in milliseconds."""
    with Image.open(path) as im:
        pts = 0
        for i in range(im.n_frames):
            im.seek(i)
            im.load()
            duration = int(im.info.get("duration", 100)) or 100
            yield _Frame(np.array(im.convert("RGB")), pts, duration)
            pts += duration


# --- writing -------------------------------------------------------------------------------------

def _gif_frame(av, pixels: np.ndarray):
    """A pal8 frame of 256 colours chosen for this frame (median cut, Floyd-Steinberg dithering)."""
    quantized = Image.fromarray(pixels).quantize(256, dither=Image.Dither.FLOYDSTEINBERG if hasattr(Image, "Dither") else 3)
    palette = np.zeros((256, 4), np.uint8)
    colours = np.frombuffer(bytes(quantized.getpalette()[:768]), np.uint8).reshape(-1, 3)
    palette[:len(colours), 1:] = colours
    palette[:, 0] = 255  # ARGB, opaque
    return av.VideoFrame.from_ndarray((np.asarray(quantized), palette), format="pal8")


def _with_last_webp_duration(data: bytes, ms: int) -> bytes:
    """An animated WebP file whose last frame (ANMF chunk) lasts `ms` milliseconds; other files unchanged."""
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return data
    at, last = 12, None
    while at + 8 <= len(data):
        size = int.from_bytes(data[at + 4:at + 8], "little")
        if data[at:at + 4] == b"ANMF":
            last = at
        at += 8 + size + (size & 1)
    if last is None:
        return data
    where = last + 8 + 12  # the frame's x, y, width, height (3 bytes each), then its duration (3 bytes)
    return data[:where] + min(ms, 2 ** 24 - 1).to_bytes(3, "little") + data[where + 3:]


class _Writer:
    """An output container with one video stream (and the input's audio), fed frames one at a time."""

    def __init__(self, av, out, encoder: str, options: dict, width: int, height: int, time_base: Fraction, rate: Optional[Fraction]):
        self.av, self.out, self.gif, self.webp = av, out, encoder == "gif", encoder == "libwebp_anim"
        self.last_seconds: Optional[float] = None  # how long the last frame written lasts
        self.stream = out.add_stream(encoder, rate=rate or Fraction(25))
        self.stream.width, self.stream.height = width, height
        self.stream.time_base = time_base
        self.stream.codec_context.time_base = time_base
        self.stream.pix_fmt = "pal8" if self.gif else "bgra" if self.webp else "yuv420p"  # libwebp converts RGB itself
        self.yuv = self.stream.pix_fmt == "yuv420p"
        if self.yuv:  # BT.709, limited range, tagged: what players assume for HD and larger
            context = self.stream.codec_context
            context.colorspace, context.color_range, context.color_primaries, context.color_trc = _BT709, _LIMITED, 1, 1
        self.stream.options = dict(options)
        self.time_base = time_base
        self.durations: dict[int, int] = {}  # pts -> duration of frames in the encoder, which does not pass durations on

    def write(self, pixels: np.ndarray, pts: int, duration: Optional[int]) -> None:
        if self.gif:
            frame = _gif_frame(self.av, pixels)
        else:
            frame = self.av.VideoFrame.from_ndarray(pixels, format="rgb24")
            if self.yuv:
                frame = frame.reformat(format="yuv420p", dst_colorspace=_BT709, dst_color_range=_LIMITED)
        frame.pts, frame.time_base = pts, self.time_base
        if duration:
            frame.duration = self.durations[pts] = duration
        self.last_seconds = float(duration * self.time_base) if duration else None
        self._mux(self.stream.encode(frame))

    def flush(self) -> None:
        packets = self.stream.encode(None)
        if self.webp and packets and self.last_seconds:  # libwebp_anim gives the last frame the average frame time
            last = packets[-1]
            fixed = self.av.Packet(_with_last_webp_duration(bytes(last), round(self.last_seconds * 1000)))
            fixed.pts, fixed.dts, fixed.duration, fixed.time_base = last.pts, last.dts, last.duration, last.time_base
            packets = [*packets[:-1], fixed]
        self._mux(packets)

    def _mux(self, packets) -> None:
        for packet in packets:
            duration = self.durations.pop(packet.pts, None)
            if duration and not packet.duration:
                packet.duration = duration  # the muxer needs it for the last frame of a GIF or WebP
            self.out.mux(packet)


def _audio_output(out, audio, container: str) -> tuple[object, str]:
    """(output audio stream or None, what happens to the sound: copied / re-encoded / dropped)."""
    if audio is None:
        return None, "none"
    name = audio.codec_context.name
    if name in out.supported_codecs:
        return out.add_stream_from_template(audio), f"{name} copied"
    target = out.default_audio_codec
    if not target or target == "none" or target not in out.supported_codecs:
        return None, f"{name} dropped ({container} holds no sound)"
    stream = out.add_stream(target, rate=audio.codec_context.sample_rate)
    stream.layout = audio.codec_context.layout
    return stream, f"{name} re-encoded to {target} ({container} cannot hold {name})"


def transcode(clip: Clip, target: Path, transform: Callable[[np.ndarray], np.ndarray], scale: int,
              progress: Optional[Callable[[int], None]] = None) -> str:
    """Write `target`: every frame of `clip` (H, W, 3) uint8 RGB mapped by `transform` to (H·scale, W·scale, 3), with
    the same time stamps, and its audio; return what happened to the audio. `target` appears whole or not at all."""
    av = require_av()
    container, encoder, options = output_format(target)
    width, height = clip.width * scale, clip.height * scale
    with file_written_atomically(Path(target)) as tmp:
        with av.open(str(tmp), "w", format=container, options=_MUXER_OPTIONS.get(container, {})) as out:
            if clip.reader == "pillow":
                writer = _Writer(av, out, encoder, options, width, height, Fraction(1, 1000), clip.rate)
                for frame in _pillow_frames(clip.path):
                    writer.write(transform(frame.pixels), frame.pts, frame.duration)
                    if progress is not None:
                        progress(1)
                writer.flush()
                return "none"
            with av.open(str(clip.path)) as source:
                video = source.streams.video[0]
                video.thread_type = "AUTO"
                audio = source.streams.audio[0] if source.streams.audio else None
                writer = _Writer(av, out, encoder, options, width, height, video.time_base, video.average_rate or video.guessed_rate)
                audio_out, note = _audio_output(out, audio, container)
                copy = audio_out is not None and note.endswith("copied")
                index = 0
                for packet in source.demux(*([video, audio] if audio_out is not None else [video])):
                    if packet.stream is video:
                        for frame in packet.decode():
                            pts = frame.pts if frame.pts is not None else index
                            duration = getattr(frame, "duration", None)
                            writer.write(transform(frame.to_ndarray(format="rgb24")), pts, duration)
                            index += 1
                            if progress is not None:
                                progress(1)
                    elif copy:
                        if packet.dts is not None:
                            packet.stream = audio_out
                            out.mux(packet)
                    else:
                        for samples in packet.decode():
                            samples.pts = None
                            out.mux(audio_out.encode(samples))
                writer.flush()
                if audio_out is not None and not copy:
                    out.mux(audio_out.encode(None))
                return note
