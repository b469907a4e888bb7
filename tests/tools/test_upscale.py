import numpy as np
import pytest
from PIL import Image

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.export import save_players
from ganforge.models.dcgan import DCGANGenerator
from ganforge.tools.upscale import upscale_files


def picture(path, mode, size=(30, 22), seed=0):
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1, "LA": 2}[mode]
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    if mode in ("RGBA", "LA"):
        array[:, : size[0] // 2, -1] = 0  # left half fully transparent
        array[:, size[0] // 2:, -1] = 255
    Image.fromarray(array[..., 0] if channels == 1 else array, mode).save(path)
    return path


def test_rgb_rgba_and_gray_inputs_keep_their_kind(sr_model, tmp_path):
    files = [picture(tmp_path / "rgb.png", "RGB"), picture(tmp_path / "rgba.png", "RGBA"), picture(tmp_path / "gray.png", "L"),
             picture(tmp_path / "graya.png", "LA")]
    written = upscale_files(sr_model, files, tmp_path / "out", tile=12, overlap=4, progress=False)
    modes = {p.name: Image.open(p).mode for p in written}
    assert modes == {"rgb-x2.png": "RGB", "rgba-x2.png": "RGBA", "gray-x2.png": "L", "graya-x2.png": "LA"}
    assert all(Image.open(p).size == (60, 44) for p in written)
    alpha = np.asarray(Image.open(tmp_path / "out" / "rgba-x2.png"))[..., 3]
    assert (alpha[:, :26] == 0).all() and (alpha[:, 34:] == 255).all()  # bicubic alpha: edges of the step stay put


def test_tiled_output_equals_the_whole_image_pass_within_tolerance(sr_model, tmp_path):
    image = picture(tmp_path / "a.png", "RGB", size=(41, 35), seed=2)
    whole = upscale_files(sr_model, [image], tmp_path / "whole", tile=0, progress=False)[0]
    tiled = upscale_files(sr_model, [image], tmp_path / "tiled", tile=16, overlap=10, progress=False)[0]
    a, b = (np.asarray(Image.open(p)).astype(int) for p in (whole, tiled))
    assert a.shape == b.shape == (70, 82, 3)
    assert np.abs(a - b).mean() < 0.5 and np.abs(a - b).max() <= 12


def test_side_by_side_with_the_original_when_degrading(sr_model, tmp_path):
    image = picture(tmp_path / "photo.png", "RGB", size=(40, 32))
    written = upscale_files(sr_model, [image], tmp_path / "out", compare=True, crop=16, degrade_inputs=True, progress=False)
    assert Image.open(written[0]).size == (40, 32)  # downscaled by 2, then upscaled by 2
    sheet = Image.open(tmp_path / "out" / "photo-side-by-side.png")
    assert sheet.size == (3 * 16 + 2 * 4, 16 + 16)  # bicubic | model | original
    plain = upscale_files(sr_model, [image], tmp_path / "plain", compare=True, crop=16, progress=False)
    assert Image.open(plain[0]).size == (80, 64)
    assert Image.open(tmp_path / "plain" / "photo-side-by-side.png").size == (2 * 16 + 4, 32)


def test_bad_inputs_are_one_sentence_and_write_nothing(sr_model, tmp_path, capsys):
    good = picture(tmp_path / "good.png", "RGB")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(GanforgeError, match="'.*notes.txt' is not an image file"):
        upscale_files(sr_model, [good, tmp_path / "notes.txt"], tmp_path / "out1", progress=False)
    (tmp_path / "broken.png").write_bytes(b"not really a png")
    with pytest.raises(GanforgeError, match="broken.png' could not be read"):
        upscale_files(sr_model, [good, tmp_path / "broken.png"], tmp_path / "out2", progress=False)
    with pytest.raises(GanforgeError, match="Scale 4 is not what model .* was trained for; expected --scale 2"):
        upscale_files(sr_model, [good], tmp_path / "out3", scale=4, progress=False)
    noise_model = save_players({"generator": DCGANGenerator()}, {"family": "dcgan", "channels": 1, "image_size": 32}, tmp_path / "dcgan")
    with pytest.raises(GanforgeError, match="not a super-resolution model"):
        upscale_files(noise_model, [good], tmp_path / "out4", progress=False)
    assert not any((tmp_path / f"out{i}").exists() for i in range(1, 5))
    assert main(["upscale", str(sr_model), str(tmp_path / "notes.txt"), "--out", str(tmp_path / "out5")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganforge upscale: error: Input") and err.count("\n") == 0


def test_command_line_writes_and_reports(sr_model, tmp_path, capsys):
    image = picture(tmp_path / "x.png", "RGB")
    assert main(["upscale", str(sr_model), str(image), "--out", str(tmp_path / "o"), "--tile", "12", "--no-progress"]) == 0
    assert "wrote 1 upscaled image(s)" in capsys.readouterr().out and (tmp_path / "o" / "x-x2.png").is_file()


def test_inputs_and_clashing_results_are_refused_before_writing(sr_model, tmp_path, capsys):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    picture(imgs / "p0.png", "RGB")
    second = picture(imgs / "p0-x2.png", "RGB", seed=1)
    before = second.read_bytes()
    assert main(["upscale", str(sr_model), str(imgs), "--out", str(imgs), "--no-progress", "--force"]) == 2
    assert "is the input" in capsys.readouterr().err and second.read_bytes() == before
    for d, suffix in (("d1", ".png"), ("d2", ".jpg")):
        (tmp_path / d).mkdir()
        picture(tmp_path / d / f"a{suffix}", "RGB")
    assert main(["upscale", str(sr_model), str(tmp_path / "d1"), str(tmp_path / "d2"), "--out", str(tmp_path / "up"), "--no-progress"]) == 2
    assert "would be one file" in capsys.readouterr().err and not list((tmp_path / "up").glob("*.png"))
    image = picture(tmp_path / "x.png", "RGB")
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x-x2.png").write_bytes(b"kept")
    assert main(["upscale", str(sr_model), str(image), "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "already exists" in capsys.readouterr().err and (tmp_path / "o" / "x-x2.png").read_bytes() == b"kept"
    assert main(["upscale", str(sr_model), str(image), "--out", str(tmp_path / "o"), "--no-progress", "--force"]) == 0
    with Image.open(tmp_path / "o" / "x-x2.png") as done:
        assert done.size == (60, 44)


def test_a_whole_image_pass_too_large_for_memory_is_refused_and_tiles_are_not(sr_model, tmp_path, monkeypatch):
    import ganforge.sampling as sampling

    image = picture(tmp_path / "big.png", "RGB", size=(400, 300))
    monkeypatch.setattr(sampling, "device_memory", lambda device: 16 * 2 ** 20)  # a 16 MiB machine
    with pytest.raises(GanforgeError, match=r"Upscaling .*big.png' at 400x300 needs about .* GiB in one pass .* "
                                            r"\(--tile > 0 processes it tile by tile\)"):
        upscale_files(sr_model, [image], tmp_path / "o", tile=0, progress=False)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())
    assert len(upscale_files(sr_model, [image], tmp_path / "o", tile=32, progress=False)) == 1
