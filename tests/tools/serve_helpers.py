"""Small exported models of every kind the page shows, and a fake run folder, for the serve tests."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ganforge.export import save_players


def stylegan_model(folder: Path, num_classes: int = 0) -> Path:
    """A random tiny 32 px StyleGAN generator, exported."""
    from ganforge.models.stylegan import StyleGANGenerator

    torch.manual_seed(0)
    g = StyleGANGenerator(z_dim=32, w_dim=32, image_size=32, num_classes=num_classes, mapping_layers=2, channel_max=16).eval()
    with torch.no_grad():  # noise weights start at zero: give them a voice so noise maps matter
        for m in g.modules():
            if hasattr(m, "noise_const"):
                m.weight.fill_(0.1)
    info = {"family": "stylegan", "channels": 1, "image_size": 32, "num_classes": num_classes, "class_names": []}
    return save_players({"generator": g}, info, folder)


def digit_model(folder: Path, steps: int = 80) -> Path:
    """A conditional generator fitted (by regression) to draw class c as one held-out MNIST digit c the shipped classifier reads as c."""
    from ganforge.data import load_dataset
    from ganforge.data.dataset import to_float
    from ganforge.metrics.features.digit_classifier import classify
    from ganforge.models.cgan import ConditionalVanillaGenerator

    data = load_dataset("mnist", image_size=28, split="test")
    images, labels = to_float(data.images[:500]), data.labels[:500]
    read = classify(images)
    exemplars = torch.stack([images[((labels == c) & (read == c)).nonzero()[0, 0]] for c in range(10)])
    torch.manual_seed(0)
    g = ConditionalVanillaGenerator(z_dim=8, image_size=28, widths=(64, 128), num_classes=10)
    opt = torch.optim.Adam(g.parameters(), lr=3e-3)
    for _ in range(steps):
        c = torch.arange(32) % 10
        loss = (g(torch.randn(32, 8), c) - exemplars[c]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    info = {"family": "cgan", "channels": 1, "image_size": 28, "num_classes": 10, "class_names": [str(c) for c in range(10)]}
    return save_players({"generator": g.eval()}, info, folder)


def cyclegan_model(folder: Path) -> Path:
    """Two random tiny CycleGAN translators, exported as training exports them."""
    from ganforge.models.cyclegan import ResnetGenerator

    torch.manual_seed(0)
    a2b, b2a = (ResnetGenerator(channels=1, width=8, n_res_blocks=1, n_down=2).eval() for _ in range(2))
    info = {"family": "cyclegan", "kind": "translation", "channels": 1, "image_size": 32, "num_classes": 0,
            "domains": ["A", "B"], "directions": {"a2b": "generator", "b2a": "generator_b2a"}, "size_multiple": 4}
    return save_players({"generator": a2b, "generator_b2a": b2a}, info, folder)


def dcgan_model(folder: Path) -> Path:
    """A random tiny unconditional DCGAN generator (a plain noise model), exported."""
    from ganforge.models.dcgan import DCGANGenerator

    torch.manual_seed(0)
    info = {"family": "dcgan", "channels": 1, "image_size": 32, "num_classes": 0, "class_names": []}
    return save_players({"generator": DCGANGenerator(z_dim=16, image_size=32, width=8).eval()}, info, folder)


def pix2pix_model(folder: Path) -> Path:
    """A random tiny pix2pix U-Net (gray in, colour out), exported with the info pix2pix training writes."""
    from ganforge.models.pix2pix import UNetGenerator

    torch.manual_seed(0)
    info = {"family": "pix2pix", "kind": "translation", "paired": True, "channels": 3, "in_channels": 1, "image_size": 32,
            "num_classes": 0, "class_names": [], "domains": ["gray", "colour"], "directions": {"a2b": "generator"}, "size_multiple": 16}
    return save_players({"generator": UNetGenerator(1, 3, width=4, n_down=4).eval()}, info, folder)


def vae_model(folder: Path) -> Path:
    """A random tiny VAE (decoder as "generator", and its encoder), exported."""
    from ganforge.models.vae import Decoder, Encoder

    torch.manual_seed(0)
    info = {"family": "vae", "channels": 1, "image_size": 32, "num_classes": 0}
    return save_players({"generator": Decoder(z_dim=8, image_size=32, width=8).eval(),
                         "encoder": Encoder(z_dim=8, image_size=32, width=8).eval()}, info, folder)


def fake_run(folder: Path, steps: int = 120) -> Path:
    """A run folder as a training in progress leaves it: config, metrics, one sample grid and an eval."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(f"model: dcgan\nsteps: {steps * 2}\n")
    with open(folder / "metrics.jsonl", "w") as f:
        for s in range(1, steps + 1):
            f.write(json.dumps({"step": s, "loss_d": 1.0 + 0.1 * np.sin(s), "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4}) + "\n")
        f.write(json.dumps({"event": "eval", "step": steps, "fd": 12.5}) + "\n")
    (folder / "samples").mkdir(exist_ok=True)
    Image.fromarray(np.full((36, 36), 128, np.uint8)).save(folder / "samples" / f"step_{steps:08d}.png")
    return folder


def append_steps(folder: Path, start: int, stop: int) -> None:
    """More training records, as a live run appends them."""
    with open(folder / "metrics.jsonl", "a") as f:
        for s in range(start, stop + 1):
            f.write(json.dumps({"step": s, "loss_d": 1.0, "loss_g": 0.8, "d_real": 0.6, "d_fake": 0.4}) + "\n")


def digit_png(path: Path, digit: int = 3, size: int = 32) -> Path:
    """A held-out MNIST digit written as a PNG."""
    from ganforge.data import load_dataset

    data = load_dataset("mnist", image_size=size, split="test")
    index = int((data.labels == digit).nonzero()[0])
    Image.fromarray(data.images[index, 0].numpy()).save(path)
    return path


def load_helpers():
    """This module (for test files, which import it by path)."""
    import sys

    return sys.modules[__name__]


# --- a page in a real browser ---------------------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser_missing() -> str:
    """Why the browser tests cannot run here ("" when they can): chromium, chromedriver, selenium or gradio missing."""
    import importlib.util
    import shutil

    for module in ("selenium", "gradio"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[serve,browser-test]')"
    for name, default in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)):
        if not (Path(default).is_file() or shutil.which(name)):
            return f"{name} is not installed (apt-get install chromium chromium-driver)"
    return ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_page(paths: list, port: int | None = None):
    """(demo, url): `ganforge serve PATHS` on 127.0.0.1 in this process, offline, serving in the background."""
    import os

    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_OFFLINE"] = "1"
    from ganforge.tools.serve import open_library
    from ganforge.tools.serve.app import launch

    library = open_library([str(p) for p in paths])
    return launch(library, "127.0.0.1", port or free_port(), block=False, quiet=True)


def chrome(width: int = 1280, height: int = 1000):
    """Headless Debian Chromium through Selenium, logging every network request, with every host but 127.0.0.1 unresolvable."""
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--no-first-run", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver_path = CHROMEDRIVER if Path(CHROMEDRIVER).is_file() else shutil.which("chromedriver")
    return webdriver.Chrome(service=Service(driver_path), options=options)


def requested_urls(driver) -> list[str]:
    """Every URL the page asked for since the last call (from Chromium's network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def grid_cells(picture: np.ndarray, rows: int, cols: int, side: int) -> list[np.ndarray]:
    """The images of a page picture (a make_grid with 2 px frames, or one image without), each shrunk back to `side` px."""
    pad = 2 if rows * cols > 1 else 0
    scale = picture.shape[0] // (rows * (side + pad) + pad)
    assert picture.shape[:2] == ((rows * (side + pad) + pad) * scale, (cols * (side + pad) + pad) * scale), picture.shape
    return [picture[(pad + r * (side + pad)) * scale:(pad + r * (side + pad) + side) * scale:scale,
                    (pad + c * (side + pad)) * scale:(pad + c * (side + pad) + side) * scale:scale] for r in range(rows) for c in range(cols)]


def fetch_picture(url: str) -> np.ndarray:
    """The RGB pixels of an image the page shows, fetched from the local server."""
    import io
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:
        data = response.read()
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


# --- the screenshots in docs/serve.md ------------------------------------------------------------------------
def _set_number(driver, elem_id: str, value) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=number]")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(str(value))
    box.send_keys(Keys.ENTER)


def _save_small(driver, path: Path, limit: int = 200_000) -> Path:
    """A full-page screenshot, palette-quantised so that it stays under `limit` bytes."""
    import io

    time.sleep(1.0)  # pictures settle into their final size
    width = driver.execute_script("return document.documentElement.scrollWidth")
    height = 0
    for _ in range(4):  # grow the window to the page until the page stops growing
        now = driver.execute_script("return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)")
        if now <= height:
            break
        height = now
        driver.set_window_size(width, min(height + 120, 2400))
        driver.execute_script("document.querySelectorAll('img').forEach(i => i.loading = 'eager'); window.scrollTo(0, document.body.scrollHeight)")
        time.sleep(0.7)
    driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.3)
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot_png = base64.b64decode(driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 2400), "scale": 1}})["data"])
    with Image.open(io.BytesIO(shot_png)) as shot:
        shot = shot.convert("RGB")
        for colors in (128, 64, 32):
            out = shot.quantize(colors, dither=Image.Dither.NONE)
            buf = io.BytesIO()
            out.save(buf, format="PNG", optimize=True)
            if buf.tell() < limit:
                break
        if buf.tell() >= limit:
            shot = shot.resize((shot.width * 3 // 4, shot.height * 3 // 4), Image.Resampling.LANCZOS).quantize(64)
            buf = io.BytesIO()
            shot.save(buf, format="PNG", optimize=True)
    path.write_bytes(buf.getvalue())
    driver.set_window_size(1100, 900)
    return path


def screenshots(out: Path, stylegan: Path, run: Path, cgan: Path, translation: Path, vae: Path, digit: Path, edges: Path) -> list[Path]:
    """serve-*.png of every tab: StyleGAN samples, interpolation and mixing, directions, projection; a class picker,
    a translation, a VAE, a run page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    out.mkdir(parents=True, exist_ok=True)
    demo, url = start_page([stylegan, cgan, translation, vae, run])
    driver = chrome(1100, 900)
    wait = WebDriverWait(driver, 120, poll_frequency=0.2)
    written = []

    def has_img(elem_id):
        return lambda d: d.find_elements(By.CSS_SELECTOR, f"#{elem_id} img")

    def tab(title):
        driver.find_element(By.XPATH, f"//button[@role='tab' and normalize-space()='{title}']").click()
        time.sleep(0.5)

    def click(elem_id):
        driver.find_element(By.CSS_SELECTOR, f"#{elem_id}").click()

    def model(name):
        from selenium.webdriver.common.keys import Keys

        box = driver.find_element(By.CSS_SELECTOR, "#model input")
        box.click()
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(name)
        box.send_keys(Keys.ENTER)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#model-info").text.startswith(f"{name}:"))

    def upload(elem_id, path):
        for button in driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} button[aria-label='Clear']"):
            button.click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{elem_id} input[type=file]"))[0].send_keys(str(path))

    try:
        driver.get(url)
        wait.until(has_img("samples-image"))
        time.sleep(1)
        written.append(_save_small(driver, out / "serve-samples.png"))
        tab("Interpolate & mix")
        click("interp-button")
        wait.until(has_img("w-strip"))
        click("mix-button")
        wait.until(has_img("mix-image"))
        time.sleep(1)
        written.append(_save_small(driver, out / "serve-interpolate.png"))
        tab("Directions")
        _set_number(driver, "dir-1", 2)
        wait.until(has_img("steer-image"))
        click("strips-button")
        wait.until(has_img("strips-image"))
        time.sleep(1)
        written.append(_save_small(driver, out / "serve-directions.png"))
        tab("Project")
        upload("project-upload", digit)
        _set_number(driver, "proj-steps", 300)
        click("project-button")
        wait.until(has_img("project-image"))
        _set_number(driver, "edit-strength", 2)
        wait.until(has_img("edit-image"))
        time.sleep(1)
        written.append(_save_small(driver, out / "serve-project.png"))
        tab("Samples")
        model(Path(cgan).parent.name if Path(cgan).name == "export" else Path(cgan).name)
        from selenium.webdriver.common.keys import Keys

        box = driver.find_element(By.CSS_SELECTOR, "#class input")
        box.click()
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys("3:")
        box.send_keys(Keys.ENTER)
        time.sleep(2)
        written.append(_save_small(driver, out / "serve-class.png"))
        model(Path(translation).parent.name if Path(translation).name == "export" else Path(translation).name)
        tab("Translate")
        upload("translate-upload", edges)
        wait.until(has_img("translate-image"))
        time.sleep(1)
        written.append(_save_small(driver, out / "serve-translate.png"))
        model(Path(vae).parent.name if Path(vae).name == "export" else Path(vae).name)
        tab("VAE")
        upload("vae-upload", digit)
        wait.until(has_img("vae-image"))
        click("walk-button")
        wait.until(has_img("walk-image"))
        time.sleep(1)
        written.append(_save_small(driver, out / "serve-vae.png"))
        tab("Runs")
        wait.until(has_img("run-curves"))
        time.sleep(1)
        written.append(_save_small(driver, out / "serve-runs.png"))
    finally:
        driver.quit()
        demo.close()
    return written


if __name__ == "__main__":  # python tests/tools/serve_helpers.py OUT STYLEGAN RUN CGAN TRANSLATION VAE: the docs' screenshots
    import sys
    import tempfile

    out_dir, sg, run_dir, cg, tr, va = (Path(a) for a in sys.argv[1:7])
    with tempfile.TemporaryDirectory() as tmp:
        digit_file = digit_png(Path(tmp) / "digit.png", digit=7)
        from ganforge.data import load_dataset
        from ganforge.data.paired import sobel_edges

        test = load_dataset("mnist", image_size=32, split="test")
        edge_file = Path(tmp) / "edges.png"
        Image.fromarray(sobel_edges(test.images[[int((test.labels == 4).nonzero()[0])]])[0, 0].numpy()).save(edge_file)
        for p in screenshots(out_dir, sg, run_dir, cg, tr, va, digit_file, edge_file):
            print(p, p.stat().st_size)
