"""The Gradio page of `ganforge serve`: one model list, a tab per tool, a run page that follows training.

Gradio (an optional extra, `pip install 'ganforge[serve]'`) is imported here only.  It is started
with analytics off and the Hub offline; its fonts and scripts come from its wheel, so the page
renders with no network.  Every handler returns its pictures plus a message line: bad input shows
one sentence there and the server carries on.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Callable, Optional

from ganforge.errors import GanforgeError
from ganforge.tools.serve import engine
from ganforge.tools.serve.runs import find_runs, view_run

CSS = """
.pixelated img, img.pixelated { image-rendering: pixelated; image-rendering: crisp-edges; }
.gf-message { color: #b42318; font-weight: 600; min-height: 1.5em; }
footer { display: none !important; }
"""
N_SLIDERS = 5  #: direction sliders on the Directions tab
REFRESH_SECONDS = 2.0  #: how often the run page re-reads its run folder


def offline_environment() -> None:
    """Settings that keep Gradio from calling out: no analytics, no Hub, no version check."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("GRADIO_TELEMETRY_ENABLED", "False")


def import_gradio():
    """The gradio module, or a one-sentence error saying how to install it."""
    offline_environment()
    try:
        import gradio as gr
    except ModuleNotFoundError:
        raise GanforgeError("The page needs Gradio, which is not installed; expected `pip install 'ganforge[serve]'`.") from None
    return gr


class Library:
    """The models and runs the page serves; a model is loaded once, on first open."""

    def __init__(self, models: Optional[dict[str, engine.Model]] = None, runs: Optional[list[Path]] = None):
        self.models: dict[str, engine.Model] = dict(models or {})
        self.runs: list[Path] = list(runs or [])
        self._lock = threading.Lock()

    def open(self, path: str) -> str:
        """Load a model (or run) folder and add it; return the model's name (runs: the run's name)."""
        path = (path or "").strip()
        if not path:
            raise GanforgeError("No folder was given; expected the path of an exported model or a run folder.")
        p = Path(path).expanduser()
        if not p.exists():
            raise GanforgeError(f"Folder {path!r} does not exist; expected an exported model or a run folder.")
        with self._lock:
            for run in find_runs(p):
                if run not in self.runs:
                    self.runs.append(run)
            for existing in self.models.values():
                if existing.path.resolve() in (p.resolve(), (p / "export").resolve()):
                    return existing.name
            try:
                model = engine.load_model(p)
            except GanforgeError:
                if find_runs(p):
                    return ""
                raise
            name, i = model.name, 2
            while name in self.models:
                name, i = f"{model.name}-{i}", i + 1
            model.name = name
            self.models[name] = model
            return name

    def get(self, name: Optional[str]) -> Optional[engine.Model]:
        """The model called `name`, or None."""
        return self.models.get(name) if name else None


def guarded(fn: Callable, outputs: int) -> Callable:
    """`fn` returning its outputs plus a message; a GanforgeError (or any failure) leaves the outputs and shows one sentence."""
    gr = import_gradio()

    def run(*args):
        try:
            result = fn(*args)
            result = result if isinstance(result, tuple) else (result,)
            return (*result, "")
        except GanforgeError as exc:
            return (*[gr.update() for _ in range(outputs)], f"⚠ {exc}")
        except Exception as exc:  # noqa: BLE001 - the page must keep serving whatever a request does
            traceback.print_exc(file=sys.stderr)
            return (*[gr.update() for _ in range(outputs)], f"⚠ The request failed ({type(exc).__name__}); expected other input — the server keeps serving.")

    run.__name__ = getattr(fn, "__name__", "handler")
    return run


def build_app(library: Library):
    """The page's gr.Blocks for a library of models and runs."""
    gr = import_gradio()
    names = list(library.models)
    first = names[0] if names else None

    def image(label: str, elem_id: str, height=None):
        return gr.Image(label=label, type="numpy", format="png", interactive=False, buttons=["download"], elem_id=elem_id,
                        elem_classes=["pixelated"], height=height)

    def message(elem_id: str):
        return gr.Markdown("", elem_id=elem_id, elem_classes=["gf-message"])

    def classes_of(model: Optional[engine.Model]):
        if model is None or not model.num_classes:
            return gr.update(choices=["any"], value="any", visible=False)
        names_ = model.info.get("class_names") or [str(c) for c in range(model.num_classes)]
        return gr.update(choices=[("every class", "any")] + [(f"{c}: {n}", str(c)) for c, n in enumerate(names_)], value="0", visible=True)

    with gr.Blocks(title="ganforge", analytics_enabled=False, delete_cache=(UPLOADS_KEPT_S, UPLOADS_KEPT_S)) as demo:
        gr.Markdown("## ganforge — look at and steer a generator")
        with gr.Row():
            model_box = gr.Dropdown(choices=names, value=first, label="Model", elem_id="model", scale=2)
            open_box = gr.Textbox(label="Open another model or run folder", placeholder="runs/stylegan-mnist-…", elem_id="open-path", scale=3)
            open_button = gr.Button("Open", elem_id="open-button", scale=1)
        info_box = gr.Markdown(library.get(first).describe() if first else "No model is loaded; open one above.", elem_id="model-info")
        open_message = message("open-msg")
        with gr.Row():
            truncation = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="truncation ψ (StyleGAN)", elem_id="psi")
            label = gr.Dropdown(choices=["any"], value="any", label="class", elem_id="class", visible=False)

        tabs: dict = {}
        first_tabs = engine.tabs_for(library.get(first).kind) if first else []

        def shown(tab: str) -> bool:
            return tab in first_tabs

        with gr.Tabs(selected=first_tabs[0] if first_tabs else "runs") as tab_box:
            with gr.Tab(engine.TABS["samples"][0], id="samples", visible=shown("samples")) as tabs["samples"]:
                with gr.Row():
                    seed = gr.Slider(0, 9999, value=0, step=1, label="seed", elem_id="seed")
                    count = gr.Slider(1, engine.MAX_GRID, value=16, step=1, label="images", elem_id="count")
                samples_image = image("samples", "samples-image")
                samples_message = message("samples-msg")
            with gr.Tab(engine.TABS["interpolate"][0], id="interpolate", visible=shown("interpolate")) as tabs["interpolate"]:
                with gr.Row():
                    seed_a = gr.Number(value=0, precision=0, label="seed A", elem_id="seed-a")
                    seed_b = gr.Number(value=1, precision=0, label="seed B", elem_id="seed-b")
                    steps = gr.Slider(2, 16, value=8, step=1, label="steps", elem_id="interp-steps")
                    interp_button = gr.Button("Interpolate", elem_id="interp-button")
                z_strip = image("walk in z (spherical)", "z-strip")
                w_strip = image("walk in w (linear, StyleGAN)", "w-strip")
                with gr.Row():
                    group = gr.Radio(["coarse", "middle", "fine"], value="coarse", label="styles taken from each row's source", elem_id="mix-group")
                    mix_button = gr.Button("Mix styles", elem_id="mix-button")
                mix_image = image("style mixing: top row A, first column B", "mix-image")
                interp_message = message("interp-msg")
            with gr.Tab(engine.TABS["directions"][0], id="directions", visible=shown("directions")) as tabs["directions"]:
                with gr.Row():
                    dir_seed = gr.Number(value=0, precision=0, label="seed", elem_id="dir-seed")
                    layers = gr.Radio(["all", "coarse", "middle", "fine"], value="all", label="StyleGAN levels edited (SeFa per group)",
                                      elem_id="dir-layers")
                sliders = [gr.Slider(-5, 5, value=0, step=0.25, label=f"direction {k} (spreads)", elem_id=f"dir-{k}") for k in range(N_SLIDERS)]
                with gr.Row():
                    steer_image = image("edited image", "steer-image", height=320)
                    strips_image = image("each direction from −3 to +3", "strips-image")
                strips_button = gr.Button("Show every direction as a strip", elem_id="strips-button")
                dir_message = message("dir-msg")
            with gr.Tab(engine.TABS["project"][0], id="project", visible=shown("project")) as tabs["project"]:
                gr.Markdown("Upload an image; the StyleGAN model searches for the w (and noise) that redraws it, then edit it along a direction.")
                with gr.Row():
                    project_upload = gr.File(label="image to project", type="filepath", elem_id="project-upload")
                    proj_steps = gr.Slider(10, 1000, value=200, step=10, label="steps", elem_id="proj-steps")
                    w_plus = gr.Checkbox(False, label="W+ (one w per layer)", elem_id="w-plus")
                    project_button = gr.Button("Project", elem_id="project-button")
                project_image = image("target | projection", "project-image")
                progress_image = image("progress", "progress-image")
                project_scores = gr.Markdown("", elem_id="project-scores")
                with gr.Row():
                    edit_index = gr.Slider(0, 4, value=0, step=1, label="direction", elem_id="edit-index")
                    edit_strength = gr.Slider(-5, 5, value=0, step=0.25, label="strength (spreads)", elem_id="edit-strength")
                edit_image = image("edited projection", "edit-image")
                project_state = gr.State(None)
                project_message = message("project-msg")
            with gr.Tab(engine.TABS["translate"][0], id="translate", visible=shown("translate")) as tabs["translate"]:
                with gr.Row():
                    translate_upload = gr.File(label="image to translate", type="filepath", elem_id="translate-upload")
                    translate_dir = gr.Radio(["a2b", "b2a"], value="a2b", label="direction", elem_id="translate-direction")
                translate_image = image("input | translation | back again (unpaired models)", "translate-image")
                translate_message = message("translate-msg")
            with gr.Tab(engine.TABS["vae"][0], id="vae", visible=shown("vae")) as tabs["vae"]:
                with gr.Row():
                    vae_upload = gr.File(label="image to reconstruct", type="filepath", elem_id="vae-upload")
                    vae_seed = gr.Number(value=0, precision=0, label="walk towards seed", elem_id="vae-seed")
                    walk_button = gr.Button("Latent walk", elem_id="walk-button")
                vae_image = image("input | reconstruction", "vae-image")
                walk_image = image("latent walk", "walk-image")
                vae_message = message("vae-msg")
            with gr.Tab("Runs", id="runs"):
                run_names = [str(r) for r in library.runs]
                run_box = gr.Dropdown(choices=run_names, value=run_names[0] if run_names else None, label="run folder", elem_id="run")
                run_status = gr.Markdown("", elem_id="run-status")
                with gr.Row():
                    run_curves = gr.Image(label="curves", type="numpy", format="png", interactive=False, buttons=["download"], elem_id="run-curves")
                    run_sample = image("latest samples", "run-sample")
                run_scores = gr.Markdown("", elem_id="run-scores")
                run_message = message("run-msg")
                timer = gr.Timer(REFRESH_SECONDS)

        get = library.get
        gen = {"concurrency_id": "generate", "concurrency_limit": engine.GATE.limit, "trigger_mode": "always_last"}

        # --- samples -----------------------------------------------------------------------------------------
        def do_samples(name, seed_, n, psi, cls):
            return engine.samples(get(name), int(seed_), int(n), float(psi), cls)

        sample_inputs = [model_box, seed, count, truncation, label]
        gr.on([seed.change, count.change, truncation.change, label.change], guarded(do_samples, 1), sample_inputs,
              [samples_image, samples_message], api_name="samples", **gen)

        # --- model choice --------------------------------------------------------------------------------------
        def on_model(name):
            model = get(name)
            available = engine.tabs_for(model.kind) if model else []
            return (model.describe() if model else "No model is selected.", classes_of(model),
                    gr.update(visible=model is not None and model.kind.truncation),
                    *[gr.update(visible=tab in available) for tab in tabs],
                    gr.update(selected=available[0] if available else "runs"))

        model_outputs = [info_box, label, truncation, *tabs.values(), tab_box]
        model_box.change(on_model, [model_box], model_outputs, api_name=False).then(
            guarded(do_samples, 1), sample_inputs, [samples_image, samples_message], api_name=False)

        def do_open(path):
            name = library.open(path)
            runs_ = [str(r) for r in library.runs]
            return (gr.update(choices=list(library.models), value=name or None) if name else gr.update(),
                    gr.update(choices=runs_, value=runs_[-1] if runs_ else None))

        open_button.click(guarded(do_open, 2), [open_box], [model_box, run_box, open_message], api_name="open")

        # --- interpolation and mixing -------------------------------------------------------------------------
        def do_interp(name, a, b, n, psi, cls):
            z_pic, w_pic = engine.interpolation(get(name), int(a or 0), int(b or 0), int(n), float(psi), cls)
            return z_pic, w_pic

        interp_button.click(guarded(do_interp, 2), [model_box, seed_a, seed_b, steps, truncation, label], [z_strip, w_strip, interp_message],
                            api_name="interpolate", **gen)

        def do_mix(name, a, grp, psi, cls):
            return engine.mixing(get(name), int(a or 0), grp, 4, float(psi), cls)

        mix_button.click(guarded(do_mix, 1), [model_box, seed_a, group, truncation, label], [mix_image, interp_message], api_name="mix", **gen)

        # --- directions -----------------------------------------------------------------------------------------
        def do_steer(name, s, lay, psi, cls, *strengths):
            return engine.steer(get(name), int(s or 0), [float(v) for v in strengths], lay, float(psi), cls)

        gr.on([dir_seed.change, layers.change] + [sl.change for sl in sliders], guarded(do_steer, 1),
              [model_box, dir_seed, layers, truncation, label, *sliders], [steer_image, dir_message], api_name="steer", **gen)

        def do_strips(name, s, lay, cls):
            return engine.direction_strips(get(name), int(s or 0), lay, 7, cls)

        strips_button.click(guarded(do_strips, 1), [model_box, dir_seed, layers, label], [strips_image, dir_message], api_name="strips", **gen)

        # --- projection --------------------------------------------------------------------------------------------
        def do_project(name, upload, n, plus, cls):
            pic, strip, text, result = engine.projection(get(name), upload, int(n), bool(plus), cls)
            return pic, strip, text, result

        project_button.click(guarded(do_project, 4), [model_box, project_upload, proj_steps, w_plus, label],
                             [project_image, progress_image, project_scores, project_state, project_message], api_name="project", **gen)

        def do_edit(name, result, k, s, lay):
            return engine.edit_projection(get(name), result, int(k), float(s), lay)

        gr.on([edit_index.change, edit_strength.change], guarded(do_edit, 1), [model_box, project_state, edit_index, edit_strength, layers],
              [edit_image, project_message], api_name="edit", **gen)

        # --- translation and VAE --------------------------------------------------------------------------------------
        def do_translate(name, upload, direction):
            return engine.translate(get(name), upload, direction)

        gr.on([translate_upload.change, translate_dir.change], guarded(do_translate, 1), [model_box, translate_upload, translate_dir],
              [translate_image, translate_message], api_name="translate", **gen)

        def do_reconstruct(name, upload):
            return engine.reconstruct(get(name), upload)[0]

        vae_upload.change(guarded(do_reconstruct, 1), [model_box, vae_upload], [vae_image, vae_message], api_name="reconstruct", **gen)

        def do_walk(name, upload, s):
            return engine.vae_walk(get(name), upload, int(s or 0))

        walk_button.click(guarded(do_walk, 1), [model_box, vae_upload, vae_seed], [walk_image, vae_message], api_name="walk", **gen)

        # --- runs ----------------------------------------------------------------------------------------------------
        def do_run(run):
            if not run:
                raise GanforgeError("No run folder is being served; expected `ganforge serve RUN_FOLDER` or a run opened above.")
            view = view_run(Path(run))
            return view.status, view.curves, view.sample, view.scores

        run_outputs = [run_status, run_curves, run_sample, run_scores, run_message]
        run_box.change(guarded(do_run, 4), [run_box], run_outputs, api_name="run")
        timer.tick(guarded(do_run, 4), [run_box], run_outputs, api_name=False, show_progress="hidden")

        demo.load(on_model, [model_box], model_outputs, api_name=False).then(
            guarded(do_samples, 1), sample_inputs, [samples_image, samples_message], api_name=False)
        if run_names:
            demo.load(guarded(do_run, 4), [run_box], run_outputs, api_name=False)
    return demo


UPLOADS_KEPT_S = 3600  #: uploads older than this are deleted while the page serves (checked as often)


def upload_folder() -> Path:
    """A new private folder for this page's uploads and temporary files, named to Gradio, removed when the process ends."""
    folder = Path(tempfile.mkdtemp(prefix="ganforge-serve-"))
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    atexit.register(shutil.rmtree, folder, True)
    return folder


def launch(library: Library, host: str = "127.0.0.1", port: Optional[int] = None, block: bool = True, quiet: bool = False):
    """Start the page; with `block` False return (demo, local URL) and leave it serving in the background.

    Uploads larger than engine.MAX_UPLOAD_BYTES are refused at the door (HTTP 413, before they are stored); the
    rest live in a private folder cleaned hourly and removed when the page stops.
    """
    gr = import_gradio()
    folder = upload_folder()
    demo = build_app(library)
    demo.queue(default_concurrency_limit=engine.GATE.limit, max_size=256)
    _, url, _ = demo.launch(server_name=host, server_port=port, prevent_thread_lock=True, ssr_mode=False, quiet=quiet,
                            show_error=False, theme=gr.themes.Default(), css=CSS, footer_links=[], inbrowser=False,
                            max_file_size=engine.MAX_UPLOAD_BYTES)
    demo.upload_folder = folder
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
            shutil.rmtree(folder, ignore_errors=True)
    return demo, url
