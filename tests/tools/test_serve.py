"""`ganforge serve` without a browser: every kind of model renders, load stays bounded, bad input is one sentence."""
from __future__ import annotations

import importlib.util
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.errors import GanforgeError
from ganforge.tools.serve import engine
from ganforge.tools.serve.runs import view_run

_spec = importlib.util.spec_from_file_location("serve_helpers", Path(__file__).with_name("serve_helpers.py"))
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """One loaded model of every kind the page shows."""
    root = tmp_path_factory.mktemp("models")
    return {
        "stylegan": engine.load_model(helpers.stylegan_model(root / "sg")),
        "dcgan": engine.load_model(helpers.dcgan_model(root / "dcgan")),
        "cgan": engine.load_model(helpers.digit_model(root / "cgan")),
        "cyclegan": engine.load_model(helpers.cyclegan_model(root / "cyc")),
        "pix2pix": engine.load_model(helpers.pix2pix_model(root / "p2p")),
        "vae": engine.load_model(helpers.vae_model(root / "vae")),
    }


@pytest.fixture(scope="module")
def uploads(tmp_path_factory):
    """A digit PNG, a text file posing as a PNG, a 20,000 px wide PNG."""
    root = tmp_path_factory.mktemp("uploads")
    (root / "notes.png").write_text("this is not an image\n")
    Image.new("L", (20_000, 16), 0).save(root / "wide.png")
    return {"digit": str(helpers.digit_png(root / "three.png")), "text": str(root / "notes.png"), "wide": str(root / "wide.png")}


def one_sentence(message: str) -> bool:
    """A single sentence: ends with a full stop and has no sentence break inside."""
    return message.endswith(".") and not re.search(r"[.!?] [A-Z]", message[:-1])


def cells(picture: np.ndarray, count: int, side: int) -> list[np.ndarray]:
    """The `count` images of a one-row picture, shrunk back to `side` px by taking one pixel per enlarged block."""
    pad = 2 if count > 1 else 0  # make_grid frames every cell with 2 px; a single image has no frame
    scale = picture.shape[0] // (side + 2 * pad)
    assert picture.shape[:2] == ((side + 2 * pad) * scale, (count * (side + pad) + pad) * scale)
    return [picture[pad * scale:(pad + side) * scale:scale, (pad + i * (side + pad)) * scale:(pad + i * (side + pad) + side) * scale:scale]
            for i in range(count)]


def test_kinds_are_detected(models):
    assert {name: m.kind.name for name, m in models.items()} == {"stylegan": "stylegan", "dcgan": "noise", "cgan": "noise",
                                                           "cyclegan": "translation", "pix2pix": "translation", "vae": "vae"}


def test_samples_are_enlarged_with_crisp_pixels_and_follow_the_seed(models):
    for name in ("stylegan", "dcgan", "vae"):
        pic = engine.samples(models[name], 0, 4)
        assert pic.dtype == np.uint8 and pic.ndim == 3 and pic.shape[2] == 3 and min(pic.shape[:2]) >= 96
        scale = pic.shape[0] // (2 * 32 + 2)  # a 2x2 grid of 32 px with 2 px padding (0 at the edges), enlarged
        assert scale >= 3
        block = pic[:scale * 66:scale].repeat(scale, 0)  # nearest enlargement: every block repeats one pixel
        assert np.array_equal(block, pic[:block.shape[0]])
        assert np.array_equal(pic, engine.samples(models[name], 0, 4)), name
        assert not np.array_equal(pic, engine.samples(models[name], 1, 4)), name


def test_truncation_zero_draws_the_average_image_for_every_seed(models):
    sg = models["stylegan"]
    a, b = engine.samples(sg, 0, 1, truncation=0.0), engine.samples(sg, 5, 1, truncation=0.0)
    assert np.array_equal(a, b) and not np.array_equal(a, engine.samples(sg, 5, 1, truncation=1.0))


def test_the_class_picker_changes_the_digit_the_shipped_classifier_reads(models):
    from ganforge.metrics.features.digit_classifier import classify

    images = [cells(engine.samples(models["cgan"], 7, 1, label=str(c)), 1, 28)[0][..., 0] for c in range(10)]
    x = torch.from_numpy(np.stack(images)).float().div(127.5).sub(1)[:, None]
    assert classify(x).tolist() == list(range(10))


def test_interpolation_mixing_and_directions(models):
    sg, dc = models["stylegan"], models["dcgan"]
    z_strip, w_strip = engine.interpolation(sg, 0, 1, 5)
    assert z_strip.shape == w_strip.shape
    z_cells = cells(z_strip, 5, 32)
    assert not np.array_equal(z_cells[0], z_cells[-1])
    assert np.array_equal(z_cells[0], cells(engine.samples(sg, 0, 1), 1, 32)[0])  # the walk starts at seed A's sample
    assert engine.interpolation(dc, 0, 1, 5)[1] is None
    fine = engine.mixing(sg, 0, "fine")
    assert fine.shape[1] > fine.shape[0] and not np.array_equal(fine, engine.mixing(sg, 0, "coarse"))  # 5 columns, 4 rows
    still = engine.steer(sg, 3, [0, 0, 0])
    assert np.array_equal(still, engine.samples(sg, 3, 1)) or np.abs(still.astype(int) - engine.samples(sg, 3, 1)).max() <= 1
    assert not np.array_equal(still, engine.steer(sg, 3, [4, 0, 0]))
    assert not np.array_equal(engine.steer(sg, 3, [0, 4, 0], layers="coarse"), engine.steer(sg, 3, [0, 4, 0], layers="fine"))
    assert not np.array_equal(engine.steer(dc, 3, [0, 0]), engine.steer(dc, 3, [3, 0]))
    strips = engine.direction_strips(dc, 0)
    assert strips.shape[1] > strips.shape[0]  # 7 columns, 5 rows


def test_projection_and_its_edit(models, uploads):
    sg = models["stylegan"]
    pic, progress, text, result = engine.projection(sg, uploads["digit"], steps=10)
    assert re.fullmatch(r"PSNR [0-9.]+ dB, SSIM [0-9.-]+ after 10 steps\.", text)
    assert pic.shape[1] > pic.shape[0] and progress.shape[1] > pic.shape[1]
    edited = engine.edit_projection(sg, result, 0, 3.0)
    assert not np.array_equal(edited, engine.edit_projection(sg, result, 0, 0.0))
    assert np.array_equal(cells(engine.edit_projection(sg, result, 0, 0.0), 1, 32)[0], cells(pic, 2, 32)[1])


def test_translation_round_trips_an_upload(models, uploads):
    from ganforge.data.images import decode_image

    digit = decode_image(Path(uploads["digit"]), 1, 32)[0]
    cyc = engine.translate(models["cyclegan"], uploads["digit"])
    shown = cells(cyc, 3, 32)
    assert np.array_equal(shown[0][..., 0], digit)  # input | a2b | back to A
    assert not np.array_equal(shown[1], shown[0])
    assert not np.array_equal(engine.translate(models["cyclegan"], uploads["digit"], "b2a"), cyc)
    p2p = engine.translate(models["pix2pix"], uploads["digit"])  # gray in, colour out: input | output
    shown = cells(p2p, 2, 32)
    assert np.array_equal(shown[0][..., 0], digit) and np.array_equal(shown[0][..., 2], digit)
    assert np.array_equal(p2p, engine.translate(models["pix2pix"], uploads["digit"]))
    with pytest.raises(GanforgeError, match="a2b only"):
        engine.translate(models["pix2pix"], uploads["digit"], "b2a")


def test_vae_reconstruction_and_walk(models, uploads):
    from ganforge.data.images import decode_image

    pic, code = engine.reconstruct(models["vae"], uploads["digit"])
    shown = cells(pic, 2, 32)
    assert np.array_equal(shown[0][..., 0], decode_image(Path(uploads["digit"]), 1, 32)[0])
    assert code.shape == (1, 8)
    walk = engine.vae_walk(models["vae"], uploads["digit"], 0, steps=4)
    first, last = cells(walk, 4, 32)[0], cells(walk, 4, 32)[-1]
    assert np.array_equal(first, shown[1]) and not np.array_equal(first, last)


def test_bad_inputs_give_one_sentence(models, uploads, tmp_path):
    cases = [
        (lambda: engine.translate(models["cyclegan"], uploads["text"]), "is not an image"),
        (lambda: engine.reconstruct(models["vae"], uploads["wide"]), "20000x16 px; expected an image at most 8192 px"),
        (lambda: engine.projection(models["stylegan"], uploads["text"]), "is not an image"),
        (lambda: engine.translate(models["stylegan"], uploads["digit"]), "is a StyleGAN model; translation needs a translation model"),
        (lambda: engine.projection(models["dcgan"], uploads["digit"]), "projection needs a StyleGAN model"),
        (lambda: engine.mixing(models["vae"], 0), "style mixing needs a StyleGAN model"),
        (lambda: engine.samples(models["cyclegan"], 0), "sampling needs a StyleGAN or noise GAN or VAE model"),
        (lambda: engine.samples(models["stylegan"], 0, engine.MAX_GRID + 1), "expected 1 to 64 images"),
        (lambda: engine.samples(models["cgan"], 0, 1, label="12"), "outside this model's classes"),
        (lambda: engine.reconstruct(models["vae"], None), "No image was uploaded"),
        (lambda: engine.load_model(tmp_path / "missing"), "missing"),
    ]
    for call, expected in cases:
        with pytest.raises(GanforgeError) as info:
            call()
        assert expected in str(info.value) and one_sentence(str(info.value)), str(info.value)
    assert engine.samples(models["stylegan"], 0, 1).shape[0] > 0  # and the models still serve


def test_twenty_concurrent_requests_are_served_two_at_a_time_with_bounded_memory(models, monkeypatch):
    gate = engine.Gate(2)
    monkeypatch.setattr(engine, "GATE", gate)
    sg = models["stylegan"]
    running, most = [0], [0]
    lock = threading.Lock()
    synthesis = sg.generator.synthesis
    real_forward = synthesis.forward

    def counted(*args, **kwargs):  # counts generations inside the network itself, apart from the gate's own counter
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.02)
            return real_forward(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(synthesis, "forward", counted)

    def rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * 4096

    base, peak, done = rss(), [0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], rss())
            time.sleep(0.005)

    results: list = [None] * 20
    start = threading.Barrier(20)

    def request(i):
        start.wait()
        results[i] = engine.samples(sg, i, engine.MAX_GRID)

    watcher = threading.Thread(target=watch)
    watcher.start()
    threads = [threading.Thread(target=request, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    watcher.join()
    assert all(r is not None and r.shape == results[0].shape for r in results)
    assert gate.served == 20 and gate.peak <= gate.limit and most[0] <= gate.limit
    assert most[0] == 2  # two did run at once: generation is on workers, not one global lock
    assert peak[0] - base < 512 << 20  # 20 requests of 64 images held at most two generations in memory


def test_run_page_follows_a_run(tmp_path):
    run = helpers.fake_run(tmp_path / "live", steps=120)
    view = view_run(run)
    assert view.step == 120 and view.total == 240 and "step 120 of 240" in view.status
    assert view.curves is not None and view.curves.shape[2] == 3 and view.sample_step == 120
    assert "| 120 |" in view.scores and "12.500" in view.scores
    helpers.append_steps(run, 121, 150)
    assert view_run(run).step == 150
    with pytest.raises(GanforgeError, match="does not exist"):
        view_run(tmp_path / "gone")


def test_cli_binds_localhost_by_default_and_warns_on_all_interfaces(models, monkeypatch, capsys, tmp_path):
    from ganforge.cli import main
    from ganforge.tools.serve import app

    calls = []
    monkeypatch.setattr(app, "launch", lambda library, host, port, block=True: calls.append((sorted(library.models), host, port)))
    folder = str(models["stylegan"].path)
    assert main(["serve", folder]) == 0
    assert calls[-1] == (["sg"], "127.0.0.1", 7860) and "warning" not in capsys.readouterr().err
    assert main(["serve", folder, str(helpers.fake_run(tmp_path / "run")), "--host", "0.0.0.0", "--port", "8123"]) == 0
    assert calls[-1][1:] == ("0.0.0.0", 8123)
    assert "warning: listening on all interfaces" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "does not exist; expected an exported model, a run folder or a folder of runs." in err
    assert len(calls) == 2


def test_each_kind_gets_the_tabs_its_declared_capabilities_serve(models):
    assert {name: engine.tabs_for(m.kind) for name, m in models.items()} == {
        "stylegan": ["samples", "interpolate", "directions", "project"],
        "dcgan": ["samples", "interpolate", "directions"], "cgan": ["samples", "interpolate", "directions"],
        "cyclegan": ["translate"], "pix2pix": ["translate"], "vae": ["samples", "interpolate", "directions", "vae"]}


def test_the_page_shows_only_the_tabs_of_the_chosen_models_kind(models):
    pytest.importorskip("gradio")
    from ganforge.tools.serve.app import Library, build_app

    demo = build_app(Library({"sg": models["stylegan"], "cyc": models["cyclegan"], "vae": models["vae"]}))
    shown = {c["props"]["label"]: c["props"]["visible"] for c in demo.get_config_file()["components"] if c["type"] == "tabitem"}
    assert shown == {"Samples": True, "Interpolate & mix": True, "Directions": True, "Project": True, "Translate": False,
                     "VAE": False, "Runs": True}  # the first model, a StyleGAN, is shown at load
    fns = demo.fns.values() if isinstance(demo.fns, dict) else demo.fns
    on_model = next(f.fn for f in fns if getattr(f.fn, "__name__", "") == "on_model")
    titles = [t[0] for t in engine.TABS.values()]
    for name, expected in (("cyc", ["Translate"]), ("vae", ["Samples", "Interpolate & mix", "Directions", "VAE"]),
                           ("sg", ["Samples", "Interpolate & mix", "Directions", "Project"])):
        *visible, selected = on_model(name)[3:]
        assert [t for t, update in zip(titles, visible) if update["visible"]] == expected, name
        assert selected["selected"] == engine.tabs_for(models[{"cyc": "cyclegan", "sg": "stylegan"}.get(name, name)].kind)[0]


def test_a_malformed_run_config_or_sample_is_a_sentence_on_the_run_page(tmp_path):
    import os

    run = helpers.fake_run(tmp_path / "live", steps=120)
    Image.fromarray(np.full((36, 36), 128, np.uint8)).save(run / "samples" / "step_00000100.png")
    (run / "samples" / "step_00000120.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    old = time.time() - 60
    os.utime(run / "samples" / "step_00000120.png", (old, old))
    for config in (b"[" * 100000, b"\xff\xfe binary", b"- just\n- a list\n"):
        (run / "config.yaml").write_bytes(config)
        view = view_run(run)
        assert view.step == 120 and view.total is None and view.curves is not None
        notes = view.status.split("⚠ ")[1:]
        assert len(notes) == 2 and all(one_sentence(n.strip()) for n in notes)
        assert "config.yaml is malformed" in notes[0] and "Sample step_00000120.png is malformed" in notes[1]
        assert view.sample is not None and view.sample_step == 100  # the newest readable grid is shown


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "nan"])
def test_truncation_and_strength_must_be_finite_through_the_api(models, value):
    for call in (lambda: engine.samples(models["stylegan"], 0, 4, truncation=value),
                 lambda: engine.steer(models["dcgan"], 0, [value]),
                 lambda: engine.mixing(models["stylegan"], 0, truncation=value)):
        with pytest.raises(GanforgeError, match=r"(Truncation|Strength) .* is invalid; expected a finite number\."):
            call()


def test_uploads_are_capped_at_the_door_and_kept_in_a_private_folder(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    monkeypatch.setattr(engine, "MAX_UPLOAD_BYTES", 1 << 20)
    demo, url = helpers.start_page([helpers.dcgan_model(tmp_path / "m")])
    folder = demo.upload_folder
    try:
        assert folder.name.startswith("ganforge-serve-") and folder.is_dir()

        def post(size: int) -> int:
            boundary = "ganforgeboundary"
            body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n"
                    f"Content-Type: image/png\r\n\r\n").encode() + b"\0" * size + f"\r\n--{boundary}--\r\n".encode()
            request = urllib.request.Request(url.rstrip("/") + "/gradio_api/upload", data=body, method="POST",
                                             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code

        assert post(3 << 20) == 413
        assert not [p for p in folder.rglob("*") if p.is_file()]  # refused before anything was stored
        assert post(1000) == 200
        assert [p.stat().st_size for p in folder.rglob("*") if p.is_file()] == [1000]
    finally:
        demo.close()
