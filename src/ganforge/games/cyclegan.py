"""CycleGAN (Zhu et al. 2017): two translators G: A->B and F: B->A, two PatchGAN discriminators.

One round: both discriminators learn real vs (pooled) translated images; then both generators learn to
fool them while F(G(a)) ~ a and G(F(b)) ~ b (cycle consistency) and G(b) ~ b, F(a) ~ a (identity).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Optional

import torch
from torch import Tensor, nn

from ganforge.config import TrainConfig
from ganforge.contract import D_FAKE, D_REAL, GRADIENT_PENALTY, LOSS_D, LOSS_G
from ganforge.data.dataset import to_float
from ganforge.data.unpaired import THICKNESS_DEMO, UnpairedBatchSource, UnpairedData, load_unpaired
from ganforge.errors import GanforgeError
from ganforge.games.base import Batch, DataInfo, Game, Runtime
from ganforge.games.image_pool import ImagePool
from ganforge.games.registry import ADVERSARIAL_KEYS, Family, register
from ganforge.games.toolkit import LastFakes, discriminator_loss, frozen, generator_loss, run_penalties
from ganforge.kinds import declare
from ganforge.losses import AdversarialLoss, cycle_loss, get_loss, identity_loss
from ganforge.nn.modes import eval_mode
from ganforge.nn.patchgan import patch_map_size
from ganforge.schedules import constant_then_linear


@dataclass
class CycleGANOptions:
    """Options of CycleGAN; 0 for a size means "chosen from the image size" (see `resolved`)."""

    width: int = 0  #: generator channels after the stem (paper: 64); 0: 32 below 128 px, else 64
    n_res_blocks: int = 0  #: residual blocks (paper: 6 at 128 px, 9 at 256 px); 0: 3 below 64 px, 6 below 256, else 9
    n_down: int = 2  #: stride-2 downsamplings in the generator (image sides must be multiples of 2**n_down)
    d_width: int = 0  #: discriminator channels of its first layer (paper: 64); 0: 32 below 128 px, else 64
    d_layers: int = 3  #: strided PatchGAN layers (3: 70x70 patches)
    lambda_cycle: float = 10.0  #: weight λ of the cycle-consistency L1 terms
    lambda_identity: float = 0.5  #: identity L1 weight, as a fraction of λ (0 turns it off)
    pool_size: int = 50  #: generated images kept per discriminator's history pool (0: no pool)
    decay_start: float = 0.5  #: fraction of training after which the learning rates decay linearly to 0

    def validate(self) -> None:
        """Reject negative sizes and weights and a decay start outside [0, 1]."""
        sizes = {"width": self.width, "n_res_blocks": self.n_res_blocks, "n_down": self.n_down,
                 "d_width": self.d_width, "pool_size": self.pool_size}
        for name, value in sizes.items():
            if value < 0:
                raise GanforgeError(f"CycleGAN option {name}={value} is invalid; expected an integer >= 0.")
        if self.d_layers < 1:
            raise GanforgeError(f"CycleGAN option d_layers={self.d_layers} is invalid; expected an integer >= 1.")
        for name in ("lambda_cycle", "lambda_identity"):
            if getattr(self, name) < 0:
                raise GanforgeError(f"CycleGAN option {name}={getattr(self, name)} is invalid; expected a number >= 0.")
        if not 0 <= self.decay_start <= 1:
            raise GanforgeError(f"CycleGAN option decay_start={self.decay_start} is invalid; expected 0 <= value <= 1.")

    def resolved(self, image_size: int) -> CycleGANOptions:
        """A copy with every automatic (0) size replaced by its value for `image_size`."""
        wide = image_size >= 128
        blocks = self.n_res_blocks or (3 if image_size < 64 else 6 if image_size < 256 else 9)
        return CycleGANOptions(self.width or (64 if wide else 32), blocks, self.n_down, self.d_width or (64 if wide else 32),
                               self.d_layers, self.lambda_cycle, self.lambda_identity, self.pool_size, self.decay_start)


@dataclass(frozen=True, eq=False)
class TranslationInfo(DataInfo):
    """DataInfo of a translation task: the two domains' names and data (for preview images)."""

    domains: tuple = ("A", "B")
    data: Optional[UnpairedData] = field(default=None, repr=False)


class CycleGANGame(Game):
    """Players g_ab (A->B), g_ba (B->A), d_a, d_b; one optimizer for both generators, one for both critics."""

    generator_name = "g_ab"
    critics = ("d_a", "d_b")

    def __init__(self, runtime: Runtime, info: DataInfo, options: CycleGANOptions, loss: AdversarialLoss,
                 cfg: TrainConfig):
        super().__init__(runtime, info)
        from ganforge.models.cyclegan import PatchDiscriminator, ResnetGenerator

        opts = options.resolved(info.image_size)
        multiple = 2 ** opts.n_down
        if info.image_size % multiple:
            raise GanforgeError(f"Image size {info.image_size} does not suit a generator with n_down={opts.n_down}; "
                                f"expected a multiple of {multiple}.")
        if patch_map_size(info.image_size, opts.d_layers) < 1:
            raise GanforgeError(f"Image size {info.image_size} is too small for a PatchGAN with d_layers={opts.d_layers}; "
                                "expected fewer d_layers or a larger image size.")
        c = info.channels
        self.options = opts
        self.seat(g_ab=ResnetGenerator(c, opts.width, opts.n_res_blocks, opts.n_down),
                  g_ba=ResnetGenerator(c, opts.width, opts.n_res_blocks, opts.n_down),
                  d_a=PatchDiscriminator(c, opts.d_width, opts.d_layers), d_b=PatchDiscriminator(c, opts.d_width, opts.d_layers))
        betas = (cfg.beta1, cfg.beta2)
        self.add_adam("generators", cfg.lr_g, betas, ("g_ab", "g_ba"))
        self.add_adam("discriminators", cfg.lr_d, betas, ("d_a", "d_b"))
        self.loss = loss
        self.critic_steps = cfg.n_critic
        self.penalties = run_penalties(cfg, loss)
        self.pools = {"a": ImagePool(opts.pool_size), "b": ImagePool(opts.pool_size)}
        self.last_fakes = self.keep_in_state("fakes", LastFakes(runtime, ("a", "b")))  # (fake_a, fake_b) of the last generator step

    # --- schedule -------------------------------------------------------------------------------
    def set_phase(self, step: int, total_steps: int) -> None:
        """Constant learning rates, then linear decay to zero from `decay_start` of the run (Zhu et al. 2017)."""
        self.scale_learning_rates(constant_then_linear(step, total_steps, self.options.decay_start))

    # --- one round ------------------------------------------------------------------------------
    def discriminator_step(self, batch: Batch) -> dict[str, Tensor]:
        """Update both critics on real images vs translations drawn through the history pools."""
        p = self.players
        real_a, real_b = batch["a"], batch["b"]
        fakes = self.last_fakes.take()  # the translations made by the last generator step, as in the paper's schedule
        if fakes is None:  # first round (or a second critic step): translate this batch
            with torch.no_grad():
                fakes = (p["g_ba"](real_b), p["g_ab"](real_a))
        fake_a, fake_b = self.pools["a"].query(fakes[0]), self.pools["b"].query(fakes[1])
        # each critic scores real and fake in one pass (instance norm keeps samples independent)
        terms_a = discriminator_loss(p["d_a"], real_a, fake_a, self.loss, self.penalties, joint=True)
        terms_b = discriminator_loss(p["d_b"], real_b, fake_b, self.loss, self.penalties, joint=True)
        self.update("discriminators", terms_a.loss + terms_b.loss)
        logs = {LOSS_D: (terms_a.adversarial + terms_b.adversarial).detach(), "loss_d_a": terms_a.adversarial.detach(),
                "loss_d_b": terms_b.adversarial.detach(),
                D_REAL: 0.5 * (terms_a.logs[D_REAL] + terms_b.logs[D_REAL]),
                D_FAKE: 0.5 * (terms_a.logs[D_FAKE] + terms_b.logs[D_FAKE])}
        if GRADIENT_PENALTY in terms_a.logs:
            logs[GRADIENT_PENALTY] = terms_a.logs[GRADIENT_PENALTY] + terms_b.logs[GRADIENT_PENALTY]
        return logs

    def generator_step(self, batch: Batch) -> dict[str, Tensor]:
        """Update both generators: adversarial + λ·cycle + λ·λ_id·identity, critics frozen."""
        p, opts = self.players, self.options
        a, b = batch["a"], batch["b"]
        n = a.shape[0]
        identity = opts.lambda_identity > 0
        with frozen(p["d_a"], p["d_b"]):
            # Instance norm keeps samples independent, so inputs of one generator share a forward pass.
            if identity:
                fake_b, same_b = p["g_ab"](torch.cat([a, b])).split([n, b.shape[0]])
                fake_a, same_a, rec_a = p["g_ba"](torch.cat([b, a, fake_b])).split([b.shape[0], n, n])
            else:
                fake_b = p["g_ab"](a)
                fake_a, rec_a = p["g_ba"](torch.cat([b, fake_b])).split([b.shape[0], n])
            rec_b = p["g_ab"](fake_a)
            adversarial = generator_loss(p["d_b"], fake_b, self.loss, b) + generator_loss(p["d_a"], fake_a, self.loss, a)
            cycle = cycle_loss(a, rec_a) + cycle_loss(b, rec_b)
            loss = adversarial + opts.lambda_cycle * cycle
            logs = {"loss_g_adv": adversarial.detach(), "loss_cycle": cycle.detach()}
            if identity:
                same = identity_loss(b, same_b) + identity_loss(a, same_a)
                loss = loss + opts.lambda_cycle * opts.lambda_identity * same
                logs["loss_identity"] = same.detach()
            self.update("generators", loss)
        self.last_fakes.keep(fake_a, fake_b)
        return {LOSS_G: loss.detach(), **logs}

    # --- what a person sees -----------------------------------------------------------------------
    def sample_inputs(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Six real images of each domain (fewer if `n` < 6), picked with `generator`."""
        data = getattr(self.info, "data", None)
        if data is None:
            raise GanforgeError("This CycleGAN game has no domain data to preview; expected a TranslationInfo with data.")
        k = max(1, min(6, n))
        inputs = {}
        for key, dataset in (("a", data.a), ("b", data.b)):
            index = torch.randint(0, len(dataset), (k,), generator=generator)
            inputs[key] = to_float(dataset.images[index])
        return inputs

    @torch.no_grad()
    def render(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """One row per preview: a, G(a), F(G(a)), b, F(b), G(F(b)), by the live generators.

        The exported pair is the live one (an average of G alone would not match F), so the grid shows it too.
        """
        g_ab, g_ba = self.players["g_ab"], self.players["g_ba"]
        device = self.runtime.device
        a, b = inputs["a"].to(device), inputs["b"].to(device)
        with eval_mode(g_ab, g_ba):
            fake_b, fake_a = g_ab(a), g_ba(b)
            rec_a, rec_b = g_ba(fake_b), g_ab(fake_a)
        rows = torch.stack([a, fake_b, rec_a, b, fake_a, rec_b], dim=1)  # (k, 6, C, H, W)
        return rows.flatten(0, 1).float()

    def export_info(self) -> dict[str, Any]:
        """Base facts plus kind "translation", the domain names and which player translates which way."""
        info = super().export_info()
        info.update(**declare("translation"), domains=list(getattr(self.info, "domains", ("A", "B"))),
                    directions={"a2b": "generator", "b2a": "generator_b2a"},
                    size_multiple=2 ** self.options.n_down)
        return info

    def export_players(self, generator: nn.Module) -> dict[str, nn.Module]:
        """Both live translators: "generator" (A->B) and "generator_b2a" (B->A); `generator` is not used."""
        return {"generator": self.players["g_ab"], "generator_b2a": self.players["g_ba"]}

    # --- state beyond players and optimizers --------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        """Both history pools and the translations waiting for the next critic step."""
        return {"pool_a": self.pools["a"].state_dict(), "pool_b": self.pools["b"].state_dict(), **super().extra_state()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what `extra_state` saved, on this run's device and memory format."""
        device = self.runtime.device
        for key in ("a", "b"):
            if f"pool_{key}" in state:
                self.pools[key].load_state_dict(state[f"pool_{key}"], device)
        super().load_extra_state(state)


def translation_runtime(cfg: TrainConfig, runtime: Runtime) -> Runtime:
    """The runtime with NHWC layout only where it pays: "auto" means on for GPUs, off for CPUs.

    On CPU, instance norm and reflection padding copy NHWC tensors back and forth; a training round
    of the ResNet-9 players at 64 px took 1.3-1.5x as long in NHWC as in NCHW (see docs/cyclegan.md).
    """
    wanted = cfg.channels_last == "on" or (cfg.channels_last == "auto" and runtime.device.type != "cpu")
    return replace(runtime, channels_last=wanted)


def load_data(cfg: TrainConfig, options: CycleGANOptions, runtime: Runtime) -> UnpairedBatchSource:
    """The unpaired source for `cfg.data` (see ganforge.data.unpaired), with its TranslationInfo."""
    data = load_unpaired(cfg.data or THICKNESS_DEMO, cfg.image_size, cfg.channels)
    runtime = translation_runtime(cfg, runtime)
    info = TranslationInfo(data.a.channels, data.a.image_size, 0, (), domains=(data.name_a, data.name_b), data=data)
    return UnpairedBatchSource(data, cfg.batch_size, cfg.seed, runtime.device, runtime.channels_last,
                               runtime.rank, runtime.world_size, info=info)


def build(cfg: TrainConfig, options: CycleGANOptions, info: DataInfo, runtime: Runtime) -> CycleGANGame:
    """The CycleGAN game for a resolved config."""
    return CycleGANGame(translation_runtime(cfg, runtime), info, options, get_loss(cfg.loss or "least_squares"), cfg)


register(Family("cyclegan", "unpaired image-to-image translation (Zhu et al. 2017)", CycleGANOptions, build,
                default_data=THICKNESS_DEMO, default_loss="least_squares", default_image_size=32,
                default_steps=600, default_batch_size=4, load_data=load_data, reads=ADVERSARIAL_KEYS,
                tiny={"image_size": 16, "options": {"width": 4, "n_res_blocks": 1, "d_width": 4, "d_layers": 2, "pool_size": 3}}))
