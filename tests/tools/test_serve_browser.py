"""`ganforge serve` in a real browser: Debian's headless Chromium driven by Selenium, one page for the module.

Skipped when chromium, chromedriver, selenium or gradio are missing, unless GANFORGE_REQUIRE_BROWSER=1
(CI sets it once it has installed them), which turns the skip into a failure.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

_spec = importlib.util.spec_from_file_location("serve_helpers", Path(__file__).with_name("serve_helpers.py"))
helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(helpers)

_missing = helpers.browser_missing()
if _missing:
    if os.environ.get("GANFORGE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"GANFORGE_REQUIRE_BROWSER=1 but {_missing}", pytrace=False)
    pytest.skip(f"browser tests need Chromium, Selenium and Gradio: {_missing}", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from ganforge.tools.serve import engine  # noqa: E402


class Page:
    """The served page in a browser, with the models behind it and the files to upload."""

    def __init__(self, driver, url: str, models: dict, files: dict, run: Path):
        self.driver, self.url, self.models, self.files, self.run = driver, url, models, files, run

    def wait(self, condition, timeout: float = 20):
        """Wait until condition(driver) is truthy and return it."""
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(condition)

    def src(self, elem_id: str):
        """The src of the image in the element `elem_id` (None while it shows none)."""
        found = self.driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} img")
        return found[0].get_attribute("src") if found else None

    def new_picture(self, elem_id: str, before) -> np.ndarray:
        """Wait until the image in `elem_id` differs from `before`, then fetch its pixels."""
        src = self.wait(lambda d: (self.src(elem_id) or None) if self.src(elem_id) != before else None)
        return helpers.fetch_picture(src)

    def text(self, elem_id: str) -> str:
        """Visible text of an element."""
        return self.driver.find_element(By.CSS_SELECTOR, f"#{elem_id}").text

    def choose(self, elem_id: str, typed: str) -> None:
        """Pick the first option of the dropdown `elem_id` that matches `typed`."""
        box = self.driver.find_element(By.CSS_SELECTOR, f"#{elem_id} input")
        box.click()
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(typed)
        box.send_keys(Keys.ENTER)

    def model(self, name: str) -> None:
        """Select a model and wait until the page says so."""
        self.choose("model", name)
        self.wait(lambda d: self.text("model-info").startswith(f"{name}:"))

    def tab_titles(self) -> list[str]:
        """Titles of the tabs the page shows."""
        return [b.text.strip() for b in self.driver.find_elements(By.XPATH, "//button[@role='tab']") if b.is_displayed()]

    def tab(self, title: str) -> None:
        """Open a tab by its title."""
        self.driver.find_element(By.XPATH, f"//button[@role='tab' and normalize-space()='{title}']").click()

    def upload(self, elem_id: str, path: str) -> None:
        """Put a file into the upload box `elem_id` (clearing what it holds)."""
        clear = self.driver.find_elements(By.CSS_SELECTOR, f"#{elem_id} button[aria-label='Clear']")
        if clear:
            clear[0].click()
        field = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, f"#{elem_id} input[type=file]"))[0]
        field.send_keys(path)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """One server on 127.0.0.1 (a free port) for the module, serving four models and a live run, and one browser on it."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("page")
    folders = {"sg": helpers.stylegan_model(root / "sg"), "cgan": helpers.digit_model(root / "cgan"),
               "cyc": helpers.cyclegan_model(root / "cyc"), "vae": helpers.vae_model(root / "vae")}
    run = helpers.fake_run(root / "live", steps=120)
    (root / "notes.png").write_text("this is not an image\n")
    Image.new("L", (20_000, 16), 0).save(root / "wide.png")
    files = {"digit": str(helpers.digit_png(root / "three.png")), "text": str(root / "notes.png"), "wide": str(root / "wide.png")}
    demo, url = helpers.start_page(list(folders.values()) + [run])
    driver = helpers.chrome()
    try:
        driver.get(url)
        yield Page(driver, url, {name: engine.load_model(f) for name, f in folders.items()}, files, run)
    finally:
        driver.quit()
        demo.close()
        torch.set_num_threads(threads)


def test_page_loads_offline_with_every_resource_from_localhost(page):
    first = page.new_picture("samples-image", None)
    assert np.array_equal(first, engine.samples(page.models["sg"], 0, 16))
    urls = page.requested_urls = helpers.requested_urls(page.driver)
    assert len(urls) > 20  # scripts, styles, fonts and the picture, all fetched
    assert any("/fonts/" in u or u.endswith((".woff2", ".woff")) for u in urls)
    foreign = [u for u in urls if not (u.startswith(page.url.rstrip("/")) or u.startswith(("data:", "blob:")))]
    assert foreign == []
    assert page.url.startswith("http://127.0.0.1:")


def test_moving_the_seed_slider_changes_the_image(page):
    before = page.src("samples-image")
    page.driver.find_element(By.CSS_SELECTOR, "#seed input[type=range]").send_keys(Keys.ARROW_RIGHT)
    moved = page.new_picture("samples-image", before)
    assert page.driver.find_element(By.CSS_SELECTOR, "#seed input[type=number]").get_attribute("value") == "1"
    assert np.array_equal(moved, engine.samples(page.models["sg"], 1, 16))
    assert not np.array_equal(moved, engine.samples(page.models["sg"], 0, 16))


def test_changing_the_class_changes_the_digit_the_classifier_reads(page):
    from ganforge.metrics.features.digit_classifier import classify

    before = page.src("samples-image")
    page.model("cgan")
    for digit in (0, 3, 7):
        if digit:
            page.choose("class", f"{digit}:")
        picture = page.new_picture("samples-image", before)
        before = page.src("samples-image")
        images = np.stack([c[..., 0] for c in helpers.grid_cells(picture, 4, 4, 28)])
        read = classify(torch.from_numpy(images).float().div(127.5).sub(1)[:, None])
        assert read.tolist() == [digit] * 16


def test_the_page_opens_with_only_the_tabs_of_the_first_models_kind(page):
    """The StyleGAN model shown first gets no Translate or VAE tab; choosing a translator shows and selects Translate.

    (Gradio 6.31 shows a tab whose visibility is updated to True but does not hide one updated to False: the
    server's updates for every tab are checked in test_serve.py.)
    """
    page.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#model input"))
    assert page.tab_titles() == ["Samples", "Interpolate & mix", "Directions", "Project", "Runs"]
    page.model("cyc")
    page.wait(lambda d: "Translate" in page.tab_titles())
    selected = page.driver.find_element(By.XPATH, "//button[@role='tab' and contains(@class, 'selected')]")
    assert selected.text.strip() == "Translate"
    page.model("cgan")


def test_a_model_of_the_wrong_kind_is_one_visible_sentence(page):
    page.tab("Interpolate & mix")
    page.driver.find_element(By.CSS_SELECTOR, "#mix-button").click()
    page.wait(lambda d: "⚠" in page.text("interp-msg"))
    assert page.text("interp-msg") == "⚠ Model 'cgan' is a noise GAN model; style mixing needs a StyleGAN model."
    assert page.src("mix-image") is None


def test_an_upload_round_trips_through_a_translation_model(page):
    page.model("cyc")
    page.upload("translate-upload", page.files["digit"])
    picture = page.new_picture("translate-image", None)
    assert np.array_equal(picture, engine.translate(page.models["cyc"], page.files["digit"]))
    assert page.text("translate-msg") == ""


def test_bad_uploads_show_one_sentence_and_the_server_keeps_serving(page):
    page.model("vae")
    page.tab("VAE")
    page.upload("vae-upload", page.files["text"])
    page.wait(lambda d: "not an image" in page.text("vae-msg"))
    assert page.text("vae-msg") == "⚠ Upload 'notes.png' is not an image; expected a PNG, JPEG, WebP or BMP file."
    page.upload("vae-upload", page.files["wide"])
    page.wait(lambda d: "wide.png" in page.text("vae-msg"))
    assert page.text("vae-msg") == "⚠ Upload 'wide.png' is 20000x16 px; expected an image at most 8192 px a side."
    page.upload("vae-upload", page.files["digit"])  # the same server, the next request: served
    picture = page.new_picture("vae-image", None)
    assert np.array_equal(picture, engine.reconstruct(page.models["vae"], page.files["digit"])[0])
    page.wait(lambda d: page.text("vae-msg") == "")


def test_the_run_page_follows_a_run_as_it_trains(page):
    page.tab("Runs")
    page.wait(lambda d: "step 120 of 240" in page.text("run-status"))
    assert "12.500" in page.text("run-scores")
    assert page.src("run-sample") and page.src("run-curves")
    helpers.append_steps(page.run, 121, 150)
    page.wait(lambda d: "step 150 of 240" in page.text("run-status"), timeout=15)  # refreshed by itself
