"""The game contract: players, optimizers, and what one round of play is."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import _SpectralNorm

from ganforge.contract import Batch, DataInfo, Runtime
from ganforge.errors import GanforgeError
from ganforge.games.penalties import NO_PENALTIES, Penalties

__all__ = ["Batch", "DataInfo", "Game", "Runtime"]


class Game:
    """Owns its players and optimizers; says what a discriminator step and a generator step are.

    Subclasses seat their players (`seat`, or `seat_pair` for one generator and one discriminator),
    give them optimizers (`add_adam`), name the player that is sampled, averaged (EMA) and exported in
    `generator_name`, the discriminators in `critics`, and declare D's regularisers in `penalties`;
    games whose D sees transformed images (ADA, DiffAugment) set `augmenter`.
    """

    critic_steps: int = 1  # discriminator steps per round; 0 for games without a discriminator
    generator_name: str = "generator"
    critics: tuple[str, ...] = ("discriminator",)  # the players that judge; `penalties` apply to them

    def __init__(self, runtime: Runtime, info: DataInfo):
        self.runtime = runtime
        self.info = info
        self.players: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.base_lr: dict[str, float] = {}  # each optimizer's learning rate before `scale_learning_rates`
        self.penalties = NO_PENALTIES
        self.augmenter = None  # an nn.augment.Augmenter where the critics see transformed images (ADA, DiffAugment); None: plain
        self.kept: dict[str, Any] = {}  # parts saved by the default `extra_state` (`keep_in_state`)

    # --- seating players ----------------------------------------------------------------------------
    def seat(self, **players: nn.Module) -> None:
        """Place each player on the runtime's device and layout and keep it under its name."""
        for name, module in players.items():
            self.players[name] = self.runtime.place(module)

    def add_adam(self, name: str, lr: float, betas: tuple[float, float], players: Sequence[str] = ()) -> None:
        """An Adam called `name` over the named players' parameters (default: the player `name`), at base rate `lr`."""
        if lr is None:
            raise GanforgeError(f"The learning rate of optimizer {name!r} is unset; expected lr_g and lr_d filled by "
                                f"run_dir.resolve_defaults (the family's default_lr) or given.")
        modules = [self.players[p] for p in (players or (name,))]
        self.optimizers[name] = self.adam(modules[0] if len(modules) == 1 else nn.ModuleList(modules), lr, betas)
        self.base_lr[name] = lr

    def seat_pair(self, generator: nn.Module, discriminator: nn.Module, cfg, penalties: Penalties = NO_PENALTIES) -> None:
        """The classic pair: players "generator" and "discriminator", an Adam each at the run's lr_g, lr_d and
        (beta1, beta2), `cfg.n_critic` D steps a round and D's `penalties`."""
        self.seat(generator=generator, discriminator=discriminator)
        betas = (cfg.beta1, cfg.beta2)
        self.add_adam("generator", cfg.lr_g, betas)
        self.add_adam("discriminator", cfg.lr_d, betas)
        self.critic_steps = cfg.n_critic
        self.penalties = penalties

    def keep_in_state(self, name: str, part: Any) -> Any:
        """`part` (anything with `state_dict()` and `load_state_dict(state)`, e.g. `toolkit.LastFakes`), saved under
        `name` by the default `extra_state` and restored by the default `load_extra_state`."""
        self.kept[name] = part
        return part

    def scale_learning_rates(self, factor: float) -> None:
        """Set every optimizer's learning rate to its base rate times `factor` (a schedule's value)."""
        for name, opt in self.optimizers.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr[name] * factor

    # --- one round --------------------------------------------------------------------------------
    def discriminator_step(self, batch: Batch) -> dict[str, Tensor]:
        """Update the discriminator(s) on one batch; return named 0-d tensors to log."""
        raise NotImplementedError

    def generator_step(self, batch: Batch) -> dict[str, Tensor]:
        """Update the generator(s) on one batch; return named 0-d tensors to log."""
        raise NotImplementedError

    def set_phase(self, step: int, total_steps: int) -> None:
        """Told before each round where training stands (schedules such as growth or lr decay)."""

    def current_ema_decay(self) -> float | None:
        """The generator EMA's decay for this round when the game schedules it (R3GAN); None: the run's ema_decay."""
        return None

    # --- what a person sees -----------------------------------------------------------------------
    def sample_inputs(self, n: int, generator: torch.Generator) -> dict[str, Tensor]:
        """Fixed inputs for the progress grid, drawn from `generator` (CPU)."""
        raise NotImplementedError

    @torch.no_grad()
    def render(self, generator: nn.Module, inputs: dict[str, Tensor]) -> Tensor:
        """Images in [-1, 1] that `generator` (the live or EMA copy) makes from `inputs`."""
        raise NotImplementedError

    def export_info(self) -> dict[str, Any]:
        """Facts saved beside an exported generator (image size, channels, classes, family...)."""
        return {"channels": self.info.channels, "image_size": self.info.image_size,
                "num_classes": self.info.num_classes, "class_names": list(self.info.class_names)}

    def export_players(self, generator: nn.Module) -> dict[str, nn.Module]:
        """Players saved in an exported model, given the generator to export (live or EMA copy)."""
        return {"generator": generator}

    # --- plumbing shared by every game ----------------------------------------------------------------
    @property
    def generator(self) -> nn.Module:
        """The player that is sampled, averaged and exported."""
        return self.players[self.generator_name]

    def update(self, optimizer: str, loss: Tensor) -> None:
        """Backpropagate `loss` and step one optimizer, averaging gradients across processes."""
        opt = self.optimizers[optimizer]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        self.runtime.sync_gradients([p for g in opt.param_groups for p in g["params"]])
        opt.step()

    def twice_differentiated(self) -> set[str]:
        """Names of players whose forward pass a penalty differentiates twice: the critics, when `penalties` has one on."""
        return {name for name in self.critics if name in self.players} if self.penalties.any else set()

    def spectrally_normed_critics(self) -> set[str]:
        """Names of critics holding spectral-norm parametrizations (Miyato et al. 2018)."""
        return {name for name in self.critics if name in self.players
                and any(isinstance(m, _SpectralNorm) for m in self.players[name].modules())}

    def compilable_players(self) -> dict[str, nn.Module]:
        """Players that `compile: on` may compile: not the twice-differentiated ones (compiled graphs have no double
        backward), nor spectrally normed critics: a critic judges real and fake in two training passes before one backward,
        and with spectral norm that backward fails compiled, on a buffer rewritten in place (torch 2.13; docs/speed.md)."""
        eager = self.twice_differentiated() | self.spectrally_normed_critics()
        return {name: m for name, m in self.players.items() if name not in eager}

    def train_mode(self, training: bool = True) -> None:
        """Put every player in training (or eval) mode."""
        for module in self.players.values():
            module.train(training)

    def state_dict(self) -> dict[str, Any]:
        """Players, optimizers and any extra state (pools, schedules) for a checkpoint."""
        return {"players": {k: m.state_dict() for k, m in self.players.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "extra": self.extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` saved."""
        for k, m in self.players.items():
            m.load_state_dict(state["players"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
            _match_parameter_layout(o)
        self.load_extra_state(state.get("extra", {}))

    def extra_state(self) -> dict[str, Any]:
        """Game state beyond players and optimizers (tensors or JSON values): by default each part kept in state."""
        return {name: part.state_dict() for name, part in self.kept.items()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what `extra_state` saved."""
        for name, part in self.kept.items():
            part.load_state_dict(state.get(name))

    def adam(self, module: nn.Module, lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
        """Adam over a player's parameters, fused where the device supports it."""
        params = [p for p in module.parameters() if p.requires_grad]
        return torch.optim.Adam(params, lr=lr, betas=betas, **fused_adam_kwargs(self.runtime.device))


def _match_parameter_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give loaded optimizer state the memory layout (e.g. channels_last) of its parameter."""
    for param, slots in optimizer.state.items():
        for name, value in slots.items():
            if isinstance(value, torch.Tensor) and value.shape == param.shape and value.stride() != param.stride():
                slots[name] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def fused_adam_kwargs(device: torch.device) -> dict:
    """`fused=True` where this torch build has a fused Adam kernel for `device`, else nothing."""
    if device.type == "cuda":
        return {"fused": True}
    if device.type == "cpu" and tuple(int(x) for x in torch.__version__.split(".")[:2]) >= (2, 4):
        return {"fused": True}
    return {}


def latent_inputs(n: int, z_dim: int, generator: torch.Generator, num_classes: int = 0) -> dict[str, Tensor]:
    """Fixed z ~ N(0, I) drawn from `generator`, and with `num_classes` > 0 labels cycling through the classes."""
    inputs = {"z": torch.randn(n, z_dim, generator=generator)}
    if num_classes > 0:
        inputs["labels"] = torch.arange(n) % num_classes
    return inputs
