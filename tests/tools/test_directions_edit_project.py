"""`ganforge project` then `ganforge edit --w`: a projected image written, reloaded and edited; bad inputs exit 2."""
import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.cli import main
from ganforge.export import save_players

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def model(tmp_path):
    from ganforge.models.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    g = StyleGANGenerator(z_dim=16, w_dim=16, image_size=16, channel_max=8, mapping_layers=2).eval()
    return save_players({"generator": g}, {"family": "stylegan", "image_size": 16, "channels": 1}, tmp_path / "m"), g


def test_project_writes_w_images_and_scores_and_edit_reads_the_w(model, tmp_path, capsys):
    folder, g = model
    with torch.no_grad():
        made = g.synthesize(g.mapping(torch.randn(1, 16, generator=torch.Generator().manual_seed(4))))
    Image.fromarray(((made[0, 0] + 1) * 127.5).round().byte().numpy()).save(tmp_path / "t.png")
    assert main(["project", str(folder), str(tmp_path / "t.png"), "--out", str(tmp_path / "p"), "--steps", "40"]) == 0
    printed = capsys.readouterr().out
    psnr = float(printed.split("PSNR ")[1].split(" dB")[0])
    assert psnr > 20 and "loss: pixels + MS-SSIM" in printed
    with np.load(tmp_path / "p" / "projected_w.npz") as data:
        assert data["w"].shape == (1, g.num_ws, 16) and "noise0" in data
    for name in ("projected.png", "target.png", "progress.png"):
        assert (tmp_path / "p" / name).is_file()
    assert main(["edit", str(folder), "--w", str(tmp_path / "p" / "projected_w.npz"), "--direction", "0", "--steps", "3",
                 "--out", str(tmp_path / "e")]) == 0
    with Image.open(tmp_path / "e.png") as strip:
        assert strip.width > 3 * 16 and strip.height >= 16


def test_bad_inputs_exit_2_with_one_sentence(model, tmp_path, capsys):
    folder, _ = model
    (tmp_path / "x.npz").write_bytes(b"no")
    assert main(["project", str(folder), str(tmp_path / "none.png"), "--out", str(tmp_path / "p")]) == 2
    assert "does not exist; expected an image file." in capsys.readouterr().err
    assert main(["edit", str(folder), "--w", str(tmp_path / "x.npz"), "--direction", "0", "--out", str(tmp_path / "e")]) == 2
    assert "does not load" in capsys.readouterr().err
    assert main(["directions", str(folder), "--out", str(tmp_path / "d"), "--layers", "0-9"]) == 2
    assert "outside this generator's levels" in capsys.readouterr().err
    assert not (tmp_path / "d.npz").exists() and not (tmp_path / "e.png").exists()


def test_project_checks_its_outputs_before_the_projection(model, tmp_path, capsys, monkeypatch):
    from ganforge.tools import project

    folder, _ = model
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "t.png")
    (tmp_path / "file").write_text("x")
    monkeypatch.setattr(project, "project", lambda *a, **k: pytest.fail("projected before checking --out"))
    assert main(["project", str(folder), str(tmp_path / "t.png"), "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err and (tmp_path / "file").read_text() == "x"
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "target.png").write_text("kept")
    assert main(["project", str(folder), str(tmp_path / "t.png"), "--out", str(tmp_path / "p")]) == 2
    assert "already exists" in capsys.readouterr().err and (tmp_path / "p" / "target.png").read_text() == "kept"
    assert main(["project", str(folder), str(tmp_path / "p" / "target.png"), "--out", str(tmp_path / "p"), "--force"]) == 2
    assert "is the input" in capsys.readouterr().err
