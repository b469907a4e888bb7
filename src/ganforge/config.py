"""Typed configuration of a training run, with documented defaults and one-sentence validation errors."""
from __future__ import annotations

import dataclasses
import difflib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, get_type_hints

import yaml

from ganforge.errors import GanforgeError

SEED_LIMIT = 2 ** 32  #: seeds run from 0 to SEED_LIMIT - 1, in training and in every tool
SEEDS = "an integer from 0 to 2**32 - 1"  #: the seeds accepted, in words


@dataclass
class TrainConfig:
    """Everything the referee needs for one run; family-specific knobs go in `options`."""

    model: str = "dcgan"  #: family name (`ganforge train --help` lists them)
    data: Optional[str] = None  #: mnist, fashion-mnist, or an image folder; None: the family's default
    loss: Optional[str] = None  #: adversarial loss from ganforge.losses; None: the family's default
    steps: Optional[int] = None  #: training rounds (one G update each); None with no other budget: family default
    epochs: Optional[float] = None  #: budget in passes over the data instead of steps
    minutes: Optional[float] = None  #: budget in wall-clock minutes, total over resumes
    batch_size: Optional[int] = None  #: images per D and per G update; None: the family's default (64; 128 for vanilla)
    seed: int = 0  #: seeds weights, noise and data order
    out: str = "runs"  #: parent folder of run directories
    name: Optional[str] = None  #: run directory name; None: <model>-<data>-<timestamp>
    image_size: Optional[int] = None  #: training resolution; None: the family's default
    channels: Optional[int] = None  #: 1 or 3; None: the data's own
    memory_budget_gb: Optional[float] = None  #: GiB of images held in memory (None: 1/4 of RAM); larger folders must be prepared, larger prepared sets stream
    lr_g: Optional[float] = None  #: generator Adam learning rate; None: the family's (`Family.default_lr`)
    lr_d: Optional[float] = None  #: discriminator Adam learning rate; None: the family's (`Family.default_lr`)
    beta1: float = 0.5  #: Adam β1
    beta2: float = 0.999  #: Adam β2
    n_critic: int = 1  #: discriminator updates per generator update
    gp_weight: float = 10.0  #: gradient-penalty weight, used by the wasserstein loss
    r2_gamma: float = 0.0  #: γ of the R2 penalty γ/2·E‖∇D(G(z))‖² on generated images, in every game with penalties (a family's own γ replaces it); 0: off
    augment: str = "none"  #: augmentation of the images D sees, for the families that read it: none, fixed, ada (Karras et al. 2020), diffaugment
    augment_p: float = 0.0  #: probability of each bgc transform: constant for fixed, the starting value for ada
    ada_target: float = 0.6  #: ADA's target for r_t = E[sign(D(x_real))]
    ada_speed_images: int = 500_000  #: images over which ADA can move p by 1
    ada_interval: int = 4  #: D steps between ADA's updates of p
    diffaugment_policy: str = "color,translation,cutout"  #: DiffAugment transforms for augment=diffaugment
    ema_decay: Optional[float] = None  #: generator EMA decay (0: off); None: the family's (`Family.default_ema_decay`)
    ema_rampup: float = 0.0  #: EMA half-life at most this share of the rounds played (0: no cap; StyleGAN2-ADA: 0.05)
    log_every: int = 25  #: steps between host syncs that flush per-step logs and the progress bar
    sample_every: int = 250  #: steps between fixed-noise sample grids
    checkpoint_every: int = 500  #: steps between checkpoints (one is always written at the end)
    keep_checkpoints: int = 2  #: how many recent checkpoints to keep
    loss_bound: float = 1e4  #: warn once (metrics.jsonl, progress bar) when a logged value's magnitude passes this; non-finite ones stop the run
    eval_every: int = 0  #: steps between quality evaluations during training; 0 disables them
    eval_n: int = 2000  #: samples per evaluation during training
    eval_metrics: str = "fd"  #: comma-separated metrics evaluated during training (first one picks "best"); image generators only
    #: super-resolution runs: "best" is the HF ratio nearest 1 within this many dB of the best Y-PSNR evaluated (0: the best Y-PSNR)
    eval_psnr_cost: float = 1.0
    eval_data: str = ""  #: super-resolution runs: a folder of validation images to evaluate on; empty: the data's held-out images
    copy_check_n: int = 1000  #: samples checked against the training images at the end of an image family's run (copy_check.png); 0: off
    tensorboard: bool = False  #: also write losses, D outputs, scores and sample grids for TensorBoard (runs/<name>/tensorboard)
    snapshot_every: int = 0  #: steps between exports of all players to snapshots/ (read by `ganforge theory`); 0 disables them
    device: str = "auto"  #: auto, cpu, cuda, cuda:N
    precision: str = "auto"  #: auto (bf16 where the hardware runs it fast), fp32, bf16
    channels_last: str = "auto"  #: auto (on: NHWC was faster for convolutions on both CPU and GPU), on, off
    sync_batchnorm: bool = True  #: under torchrun, BatchNorm normalises by the global batch (as one process at that batch would); off: per process
    compile: str = "auto"  #: torch.compile the players: auto (off: no faster on the CPUs measured, untested on GPU; docs/speed.md), on, off
    threads: int = 0  #: CPU threads: 0 follows the cores other processes leave free (OMP_NUM_THREADS, when set, fixes it); N: always N
    options: dict = field(default_factory=dict)  #: family options, validated by the family's dataclass

    def changed(self, key: str) -> bool:
        """Whether `key` holds a value other than its default (was set by a person, or resolved for the family)."""
        return getattr(self, key) != _DEFAULTS[key]

    def to_dict(self) -> dict:
        """A plain dict of every field, suitable for YAML."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Build and validate a config from a dict, naming any unknown key."""
        known = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in known:
                raise GanforgeError(f"Unknown config key {key!r}; expected {closest_keys(key, known)}.")
        cfg = cls(**values)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Raise GanforgeError naming the first invalid value."""
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            setattr(self, f.name, _check_type(f.name, getattr(self, f.name), hints[f.name]))
        if self.copy_check_n < 0:
            raise GanforgeError(f"Config value copy_check_n={self.copy_check_n!r} is invalid; expected an integer >= 0 (0 turns the check off).")
        if self.snapshot_every < 0:
            raise GanforgeError(f"Config value snapshot_every={self.snapshot_every!r} is invalid; expected an integer >= 0.")
        if not (math.isfinite(self.eval_psnr_cost) and self.eval_psnr_cost >= 0):
            raise GanforgeError(f"Config value eval_psnr_cost={self.eval_psnr_cost!r} is invalid; expected a number of dB >= 0.")
        if self.eval_data and self.eval_every == 0:
            raise GanforgeError(f"Config value eval_data={self.eval_data!r} is set but eval_every is 0; expected eval_every > 0 to evaluate on it.")
        if self.eval_every < 0 or self.eval_n < 2:
            raise GanforgeError(f"Config values eval_every={self.eval_every!r}, eval_n={self.eval_n!r} are invalid; expected eval_every >= 0 and eval_n >= 2.")
        if self.batch_size is not None and self.batch_size < 1:
            raise GanforgeError(f"Config value batch_size={self.batch_size!r} is invalid; expected an integer >= 1.")
        for name in ("n_critic", "log_every", "sample_every", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise GanforgeError(f"Config value {name}={getattr(self, name)!r} is invalid; expected an integer >= 1.")
        if not 0 <= self.seed < SEED_LIMIT:
            raise GanforgeError(f"Config value seed={self.seed!r} is invalid; expected {SEEDS}.")
        for name in ("steps", "epochs", "minutes", "lr_g", "lr_d", "loss_bound"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise GanforgeError(f"Config value {name}={value!r} is invalid; expected a finite number > 0.")
        for name in ("beta1", "beta2", "ema_decay"):
            if getattr(self, name) is not None and not 0 <= getattr(self, name) < 1:
                raise GanforgeError(f"Config value {name}={getattr(self, name)!r} is invalid; expected 0 <= value < 1.")
        if not (math.isfinite(self.gp_weight) and self.gp_weight >= 0):
            raise GanforgeError(f"Config value gp_weight={self.gp_weight!r} is invalid; expected a finite number >= 0.")
        check_augment(self)
        if not (math.isfinite(self.ema_rampup) and self.ema_rampup >= 0):
            raise GanforgeError(f"Config value ema_rampup={self.ema_rampup!r} is invalid; expected a number >= 0.")
        if self.image_size is not None and self.image_size < 4:
            raise GanforgeError(f"Config value image_size={self.image_size!r} is invalid; expected at least 4.")
        if self.memory_budget_gb is not None and not (math.isfinite(self.memory_budget_gb) and self.memory_budget_gb > 0):
            raise GanforgeError(f"Config value memory_budget_gb={self.memory_budget_gb!r} is invalid; expected a number of GiB > 0.")
        if self.channels not in (None, 1, 3):
            raise GanforgeError(f"Config value channels={self.channels!r} is invalid; expected 1 or 3.")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise GanforgeError(f"Config value precision={self.precision!r} is invalid; expected auto, fp32 or bf16.")
        if self.channels_last not in ("auto", "on", "off"):
            raise GanforgeError(f"Config value channels_last={self.channels_last!r} is invalid; expected auto, on or off.")
        if self.compile not in ("auto", "on", "off"):
            raise GanforgeError(f"Config value compile={self.compile!r} is invalid; expected auto, on or off.")
        if self.threads < 0:
            raise GanforgeError(f"Config value threads={self.threads!r} is invalid; expected an integer >= 0 (0: the free cores).")
        if not self.out or "\0" in self.out:
            raise GanforgeError(f"Config value out={self.out!r} is invalid; expected the path of a folder for run directories.")
        if self.name is not None:
            check_run_name(self.name)


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig) if f.default is not dataclasses.MISSING}

# Run settings whose use depends on the family; each family declares those it reads (`Family.reads`), and one
# set to a value other than its default for a family that does not read it is refused. Every other key
# applies to every run.
LOSS_KEYS = ("loss",)
OPTIMIZER_KEYS = ("lr_g", "lr_d", "beta1", "beta2")
CRITIC_KEYS = ("n_critic", "gp_weight", "r2_gamma")
AUGMENT_KEYS = ("augment", "augment_p", "ada_target", "ada_speed_images", "ada_interval", "diffaugment_policy")
FAMILY_KEYS = LOSS_KEYS + OPTIMIZER_KEYS + CRITIC_KEYS + AUGMENT_KEYS

AUGMENT_MODES = ("none", "fixed", "ada", "diffaugment")  #: choices of TrainConfig.augment


def check_augment(cfg: TrainConfig) -> None:
    """Refuse an unknown augment setting or an out-of-range ADA value (the DiffAugment policy is checked by the game)."""
    if cfg.augment not in AUGMENT_MODES:
        raise GanforgeError(f"Config value augment={cfg.augment!r} is invalid; expected one of {', '.join(AUGMENT_MODES)}.")
    if not 0 <= cfg.augment_p <= 1:
        raise GanforgeError(f"Config value augment_p={cfg.augment_p!r} is invalid; expected a probability from 0 to 1.")
    if not -1 <= cfg.ada_target <= 1:
        raise GanforgeError(f"Config value ada_target={cfg.ada_target!r} is invalid; expected a number from -1 to 1 (the paper uses 0.6).")
    if cfg.ada_speed_images < 1:
        raise GanforgeError(f"Config value ada_speed_images={cfg.ada_speed_images!r} is invalid; expected an integer >= 1 (the paper uses 500000).")
    if cfg.ada_interval < 1:
        raise GanforgeError(f"Config value ada_interval={cfg.ada_interval!r} is invalid; expected an integer >= 1 (the paper uses 4).")


def check_run_name(name: str) -> None:
    """Refuse a run name that is not one plain folder name (empty, '.', '..', a path separator, too long)."""
    seps = {"/", "\\", os.sep, *([os.altsep] if os.altsep else [])}
    if (name in ("", ".", "..") or any(sep in name for sep in seps) or "\0" in name or name != name.strip()
            or len(name.encode("utf-8", "surrogateescape")) > 255):
        raise GanforgeError(f"Run name {name!r} is invalid; expected one folder name (no path separator, no leading or "
                            f"trailing space, not '.' or '..', at most 255 bytes; parent folders go in --out).")


_KIND = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a mapping", list: "a list"}


def _check_type(name: str, value: Any, hint: Any) -> Any:
    """The value as its field's type holds it (an integer written for a float field becomes that float), or raise."""
    origin_args = getattr(hint, "__args__", None)
    allowed = tuple(a for a in origin_args if a is not type(None)) if origin_args else (hint,)
    expected = _KIND.get(allowed[0], f"a {getattr(allowed[0], '__name__', allowed[0])}")
    if value is None:
        if origin_args and type(None) in origin_args:
            return None
        raise GanforgeError(f"Config value {name}=None is invalid; expected {expected}.")
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # `--set beta1=0` reads as the integer 0; Adam and others expect floats
    if isinstance(value, bool) and bool not in allowed:
        raise GanforgeError(f"Config value {name}={value!r} is invalid; expected {expected}.")
    if not isinstance(value, allowed):
        raise GanforgeError(f"Config value {name}={value!r} is invalid; expected {expected}.")
    return value


SHOWN_KEYS = 3  #: an unknown key is answered with at most this many known keys


def closest_keys(key: str, known) -> str:
    """What to expect instead of an unknown `key`: all known keys when they are few, else the closest few (difflib)."""
    names = sorted(known)
    if not names:
        return "no option (this model has none)"
    if len(names) <= SHOWN_KEYS:
        return "one of " + ", ".join(names)
    close = difflib.get_close_matches(key, names, n=SHOWN_KEYS, cutoff=0.5)
    if not close:
        return f"one of the {len(names)} known keys (none is close to it)"
    return "a known key such as " + ", ".join(close)


def resolve_options(options_cls: type, values: dict, family: str) -> Any:
    """Validate a family's options dict against its dataclass, naming any unknown key or bad value."""
    known = {f.name: f for f in dataclasses.fields(options_cls)}
    hints = get_type_hints(options_cls)
    values = dict(values)
    for key, value in values.items():
        if key not in known:
            raise GanforgeError(f"Unknown option {key!r} for model {family!r}; expected {closest_keys(key, known)}.")
        values[key] = value = _check_type(key, value, hints[key])
        if isinstance(value, float) and not math.isfinite(value):
            raise GanforgeError(f"Option {key}={value} for model {family!r} is invalid; expected a finite number.")
    result = options_cls(**values)
    check = getattr(result, "validate", None)
    if check is not None:
        check()
    return result


def parse_assignment(text: str) -> tuple[str, Any]:
    """Parse a `key=value` command-line assignment, reading the value as YAML (numbers, booleans, lists)."""
    if "=" not in text:
        raise GanforgeError(f"Option {text!r} is invalid; expected key=value.")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError:
        value = raw
    if isinstance(value, str):  # YAML reads 1e-4 as text; take it as the number it is
        try:
            value = float(value)
        except ValueError:
            pass
    return key.strip().replace("-", "_"), value


def load_yaml(path: str | Path) -> dict:
    """Read a YAML mapping from `path` with a clear error when it is missing, unreadable or not a mapping."""
    p = Path(path)
    if p.is_dir():
        raise GanforgeError(f"Config file {str(p)!r} is a folder; expected a YAML file.")
    if not p.is_file():
        raise GanforgeError(f"Config file {str(p)!r} does not exist; expected a YAML file.")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
        raise GanforgeError(f"Config file {str(p)!r} is not valid YAML ({exc.__class__.__name__}); expected a mapping.") from None
    except OSError as exc:
        raise GanforgeError(f"Config file {str(p)!r} cannot be read ({exc.strerror or type(exc).__name__}); expected a readable YAML file.") from None
    if data is None:
        raise GanforgeError(f"Config file {str(p)!r} is empty; expected a mapping of config keys.")
    if not isinstance(data, dict):
        raise GanforgeError(f"Config file {str(p)!r} holds {type(data).__name__}; expected a mapping of config keys.")
    return data
