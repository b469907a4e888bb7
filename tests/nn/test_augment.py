"""ADA's bgc pipeline and p controller (ganforge.nn.augment), and how the games apply them."""
import json
import math

import pytest
import torch
from safetensors.torch import load_file

from ganforge.config import TrainConfig, resolve_options
from ganforge.contract import Callback, DataInfo, Runtime
from ganforge.errors import GanforgeError
from ganforge.games.registry import get_family
from ganforge.nn import augment as aug
from ganforge.nn.augment import ADA_RT, AUGMENT_P, AdaController, Augmenter, apply_colour, augment, colour_matrix, identity_params, sample_params, update_p


def images(n=4, c=3, size=8, seed=0):
    return torch.rand(n, c, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def with_params(n=4, **values):
    params = identity_params(n)
    for key, value in values.items():
        params[key] = torch.as_tensor(value, dtype=torch.float32).expand_as(params[key]).clone()
    return params


def test_p_zero_and_identity_parameters_leave_images_untouched():
    x = images()
    assert torch.equal(augment(x, 0.0), x)
    assert torch.equal(augment(x, 0.0, params=identity_params(4)), x)
    assert torch.equal(Augmenter("fixed", 0.0)(x), x)
    assert torch.equal(Augmenter("none")(x), x)


def test_a_flip_is_a_flip_and_quarter_turns_are_exact():
    x = images()
    assert torch.equal(augment(x, 0, params=with_params(xflip=1.0)), x.flip(3))
    for i in range(4):
        y = augment(x, 0, params=with_params(rotate90=float(i)))
        torch.testing.assert_close(y, torch.rot90(x, -i, dims=(2, 3)), atol=1e-5, rtol=0)


def test_integer_translation_moves_whole_pixels_with_reflection_at_the_edge():
    x = images(size=16)
    y = augment(x, 0, params=with_params(xint=[[2 / 16, 0.0]] * 4))  # two pixels to the right
    torch.testing.assert_close(y[..., 2:], x[..., :-2], atol=1e-5, rtol=0)
    torch.testing.assert_close(y[..., :2], x[..., :2].flip(3), atol=1e-5, rtol=0)  # mirrored in, not zeros


def test_isotropic_scaling_by_two_samples_the_centre():
    x = images(n=1, size=8)
    y = augment(x, 0, params=with_params(n=1, scale=2.0))
    # output pixel centres fall on input positions 2..5 (in steps of ½ pixel): the centre is magnified
    assert torch.allclose(y[..., 3:5, 3:5].mean(), x[..., 3:5, 3:5].mean(), atol=0.6)
    torch.testing.assert_close(augment(y, 0, params=with_params(n=1, scale=1.0)), y)


def test_hue_rotation_keeps_luma_and_changes_colour():
    x = images(n=6, size=5)
    y = augment(x, 0, params=with_params(n=6, hue=[0.5, 1.0, 2.0, -1.0, math.pi, -2.5]))
    torch.testing.assert_close(y.mean(1), x.mean(1), atol=1e-5, rtol=0)
    assert (y - x).abs().max() > 0.1
    back = augment(y, 0, params=with_params(n=6, hue=[-0.5, -1.0, -2.0, 1.0, -math.pi, 2.5]))
    torch.testing.assert_close(back, x, atol=1e-5, rtol=0)


def test_colour_transforms_do_what_they_say():
    x = images(n=2, size=4)
    torch.testing.assert_close(augment(x, 0, params=with_params(n=2, brightness=0.25)), x + 0.25)
    torch.testing.assert_close(augment(x, 0, params=with_params(n=2, contrast=0.5)), x * 0.5)
    grey = augment(x, 0, params=with_params(n=2, saturation=0.0))
    torch.testing.assert_close(grey, x.mean(1, keepdim=True).expand_as(x), atol=1e-5, rtol=0)
    flipped = augment(x, 0, params=with_params(n=2, lumaflip=1.0))
    torch.testing.assert_close(flipped.mean(1), -x.mean(1), atol=1e-5, rtol=0)  # luma negated ...
    torch.testing.assert_close(flipped - flipped.mean(1, keepdim=True), x - x.mean(1, keepdim=True), atol=1e-5, rtol=0)  # ... chroma kept
    one = x[:, :1]
    torch.testing.assert_close(apply_colour(one, colour_matrix(with_params(n=2, brightness=0.1, contrast=2.0))), one * 2 + 0.2)


def test_each_transform_is_drawn_per_image_with_probability_p():
    torch.manual_seed(0)
    n, p = 20000, 0.3
    params = sample_params(n, p)
    assert abs((params["brightness"] != 0).float().mean().item() - p) < 0.02
    assert abs((params["xflip"] != 0).float().mean().item() - p / 2) < 0.02  # drawn with p, then i ~ U{0, 1}
    rotated = (params["rotate_pre"] != 0) | (params["rotate_post"] != 0)
    assert abs(rotated.float().mean().item() - p) < 0.02  # at least one of the two rotations: p
    assert abs(((params["xint"] != 0).any(1)).float().mean().item() - p) < 0.02
    assert torch.equal(sample_params(8, 0.0)["hue"], torch.zeros(8))


def test_gradients_flow_through_every_transform():
    torch.manual_seed(0)
    x = images(n=8, size=16).requires_grad_(True)
    y = augment(x, 1.0)
    assert not torch.allclose(y, x)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # R1 needs a gradient of a gradient through the augmentation
    x = images(n=2, size=16).requires_grad_(True)
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    out = torch.nn.functional.conv2d(augment(x, 1.0), w).square().sum()
    (grad,) = torch.autograd.grad(out, x, create_graph=True)
    grad.square().sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0


def test_update_rule_against_hand_values():
    assert update_p(0.0, 0.8, 0.6, 64 * 4, 500_000) == pytest.approx(256 / 500_000)
    assert update_p(0.5, 0.2, 0.6, 256, 500_000) == pytest.approx(0.5 - 256 / 500_000)
    assert update_p(0.0, 0.2, 0.6, 256, 500_000) == 0.0  # clamped below
    assert update_p(0.9999, 1.0, 0.6, 256, 1000) == 1.0  # clamped above
    assert update_p(0.3, 0.6, 0.6, 256, 1000) == 0.3  # on target: no move


def test_controller_updates_every_interval_from_the_sign_of_real_logits():
    c = AdaController(p=0.5, target=0.6, speed_images=1000, interval=4)
    logits = torch.tensor([1.0, 2.0, 0.5, -1.0, 3.0, -0.1, 0.2, 0.3])  # 6 positive, 2 negative: r_t = 0.5
    for _ in range(3):
        c.observe(logits)
        assert c.p == 0.5  # no update inside the interval
    c.observe(logits)
    assert c.rt == pytest.approx(0.5)
    assert c.p == pytest.approx(0.5 - 32 / 1000)  # 4 steps × 8 images, r_t below target: p falls
    c.observe(torch.ones(8) * 5)
    c2 = AdaController(target=0.6, speed_images=1000, interval=4)
    c2.load_state_dict(json.loads(json.dumps(c.state_dict())))
    for ctrl in (c, c2):
        for _ in range(3):
            ctrl.observe(torch.ones(8))
    assert c2.state_dict() == c.state_dict()
    assert c.rt == 1.0 and c.p == pytest.approx(0.5 - 32 / 1000 + 32 / 1000)


def test_a_patch_discriminator_moves_p_by_its_images_not_its_logits():
    """FastGAN's D gives 25 logits an image: p must move as for 8 images a step, r_t the mean sign."""
    one, patches = (AdaController(p=0.5, target=0.6, speed_images=1000, interval=4) for _ in range(2))
    per_image = torch.tensor([1.0, 2.0, 0.5, -1.0, 3.0, -0.1, 0.2, 0.3])
    patch_map = per_image.view(8, 1).expand(8, 25).clone()
    patch_map[0, :5] = -1.0  # image 0: 20 of 25 patches say real
    for _ in range(4):
        one.observe(per_image)
        patches.observe(patch_map)
    assert one.p == pytest.approx(0.5 - 32 / 1000) and patches.p == pytest.approx(0.5 - 32 / 1000)
    assert patches.rt == pytest.approx(((20 - 5) / 25 + 5 - 2) / 8)  # image 0: 15/25; the others: 5 real, 2 fake


def _dcgan_game(**cfg_values):
    family = get_family("dcgan")
    opts = resolve_options(family.options, {"width": 4, "z_dim": 8}, "dcgan")
    cfg = TrainConfig(model="dcgan", loss="non_saturating", lr_g=2e-4, lr_d=2e-4, **cfg_values)
    cfg.validate()
    return family.build(cfg, opts, DataInfo(3, 16), Runtime(torch.device("cpu")))


def test_the_game_augments_real_and_fake_independently_and_g_gets_gradients(monkeypatch):
    torch.manual_seed(0)
    game = _dcgan_game(augment="ada", augment_p=0.5, ada_interval=2, ada_speed_images=1000, ada_target=0.6)
    draws, seen = [], []
    original = aug.sample_params

    def recording(n, p, device=None, transforms=aug.BGC):
        params = original(n, p, device, transforms)
        draws.append(params)
        return params

    monkeypatch.setattr(aug, "sample_params", recording)
    D = game.players["discriminator"]
    forward = D.forward

    def watching(x, labels=None):
        out = forward(x, labels)
        seen.append(x.detach().clone())
        return out

    monkeypatch.setattr(D, "forward", watching)
    real = images(n=8, size=16)
    batch = {"images": real}
    for _ in range(2):
        seen.clear()
        logs = game.discriminator_step(batch)
    assert len(draws) == 4  # two independent draws per D step: one for the reals, one for the fakes
    assert not torch.equal(draws[0]["hue"], draws[1]["hue"])
    assert not torch.equal(seen[0], real)  # D never sees the raw batch
    assert AUGMENT_P in logs and ADA_RT in logs
    # the generator step augments its fakes once and the gradient reaches G through the transforms
    game.generator_step(batch)
    assert len(draws) == 5
    grads = [p.grad for p in game.players["generator"].parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    # p moved once (interval 2), by 2 steps × 8 images / 1000 in the direction of sign(r_t − 0.6)
    assert game.augmenter.p == pytest.approx(0.5 + math.copysign(16 / 1000, game.augmenter.controller.rt - 0.6))


def test_rt_is_the_mean_sign_of_the_d_steps_real_logits(monkeypatch):
    torch.manual_seed(1)
    game = _dcgan_game(augment="ada", ada_interval=3, ada_speed_images=100, ada_target=0.0)
    D = game.players["discriminator"]
    forward = D.forward
    calls = []

    def watching(x, labels=None):
        out = forward(x, labels)
        calls.append(out.detach())
        return out

    monkeypatch.setattr(D, "forward", watching)
    for _ in range(3):
        game.discriminator_step({"images": images(n=8, size=16)})
    reals = torch.cat([calls[i] for i in range(0, 6, 2)])  # D step: real logits first, then fake
    rt = torch.sign(reals).mean().item()
    assert game.augmenter.controller.rt == pytest.approx(rt)
    assert game.augmenter.p == pytest.approx(min(1.0, max(0.0, math.copysign(24 / 100, rt))) if rt != 0 else 0.0)


def test_settings_are_checked_in_one_sentence():
    with pytest.raises(GanforgeError, match="augment='zoom' is invalid"):
        TrainConfig(augment="zoom").validate()
    with pytest.raises(GanforgeError, match="augment_p=1.5"):
        TrainConfig(augment="fixed", augment_p=1.5).validate()
    with pytest.raises(GanforgeError, match="ada_interval=0"):
        TrainConfig(ada_interval=0).validate()
    with pytest.raises(GanforgeError, match="'zoom'"):
        _dcgan_game(augment="diffaugment", diffaugment_policy="zoom")


def test_stylegan_reads_its_older_diffaugment_option_as_the_setting():
    family = get_family("stylegan")

    def game(cfg, **options):
        opts = resolve_options(family.options, {**family.tiny["options"], **options}, "stylegan")
        return family.build(cfg, opts, DataInfo(1, 16), Runtime(torch.device("cpu")))

    g = game(TrainConfig(model="stylegan", loss="non_saturating"), diffaugment="translation")
    assert g.augmenter.mode == "diffaugment" and g.augmenter.policy == ("translation",)
    with pytest.raises(GanforgeError, match="both choose an augmentation"):
        game(TrainConfig(model="stylegan", loss="non_saturating", augment="ada"), diffaugment="translation")
    g = game(TrainConfig(model="stylegan", loss="non_saturating", augment="ada", ada_interval=1, ada_speed_images=10))
    batch = {"images": torch.rand(8, 1, 16, 16) * 2 - 1}
    logs = {**g.discriminator_step(batch), **g.generator_step(batch)}
    assert logs[AUGMENT_P].item() in (0.0, pytest.approx(0.8))
    assert g.extra_state()["augment"]["steps"] == 1


class _Stop(Exception):
    pass


class _StopAfter(Callback):
    def __init__(self, step):
        self.step = step

    def on_round_end(self, trainer, step):
        if step > self.step:
            raise _Stop


def test_a_resumed_ada_run_continues_p_exactly(tmp_path):
    from ganforge.runlog import read_metrics
    from ganforge.train.api import train

    def cfg(name):
        return TrainConfig(model="dcgan", loss="non_saturating", steps=6, batch_size=8, out=str(tmp_path), name=name, log_every=1, sample_every=1000,
                           checkpoint_every=3, keep_checkpoints=5, device="cpu", image_size=16, augment="ada",
                           ada_interval=2, ada_speed_images=50, ada_target=0.0, options={"width": 4, "z_dim": 8})

    straight = train(cfg("straight"), callbacks=[], progress=False)
    with pytest.raises(_Stop):
        train(cfg("half"), callbacks=[_StopAfter(3)], progress=False)
    resumed = train(TrainConfig(), resume=tmp_path / "half", callbacks=[], progress=False)

    def trajectory(run):
        training, _ = read_metrics(run / "metrics.jsonl")
        return [(r["step"], r[AUGMENT_P], r[ADA_RT]) for r in training]

    assert trajectory(resumed)[3:] == trajectory(straight)[3:]
    assert len({p for _, p, _ in trajectory(straight)}) > 1  # p did move
    a = json.loads((straight / "checkpoints/step_00000006/state.json").read_text())
    b = json.loads((resumed / "checkpoints/step_00000006/state.json").read_text())
    assert a["game"]["extra"]["augment"]["mode"] == "ada" and a["game"]["extra"]["augment"]["steps"] == 6
    a.pop("elapsed_seconds"), b.pop("elapsed_seconds")
    assert a == b
    assert load_file(str(straight / "checkpoints/step_00000006/state.safetensors")).keys() == \
        load_file(str(resumed / "checkpoints/step_00000006/state.safetensors")).keys()
    sa = load_file(str(straight / "checkpoints/step_00000006/state.safetensors"))
    sb = load_file(str(resumed / "checkpoints/step_00000006/state.safetensors"))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_scheduled_probability_is_set_on_a_fixed_augmenter_only():
    fixed = Augmenter("fixed", 0.0)
    fixed.schedule(0.3)
    assert fixed.p == 0.3 and fixed.logs(torch.device("cpu"))[AUGMENT_P].item() == pytest.approx(0.3)
    with pytest.raises(GanforgeError, match="augment=fixed"):
        Augmenter("ada", 0.0).schedule(0.3)
    with pytest.raises(GanforgeError, match="from 0 to 1"):
        fixed.schedule(1.5)


def test_only_moved_images_are_resampled_and_each_gets_its_own_transform_and_gradient():
    x = images(n=4).requires_grad_(True)
    params = identity_params(4)
    params["rotate_pre"] = torch.tensor([0.0, 0.3, 0.0, -0.7])  # images 0 and 2 stay where they are
    matrix = aug.geometric_matrix(params, 8)
    mixed = aug.apply_geometric(x, matrix)
    assert torch.equal(mixed[0], x[0]) and torch.equal(mixed[2], x[2])
    for i in (1, 3):  # a moved image is resampled exactly as it would be alone
        torch.testing.assert_close(mixed[i], aug.apply_geometric(x[i:i + 1], matrix[i:i + 1])[0], atol=1e-6, rtol=0)
        assert not torch.allclose(mixed[i], x[i])
    mixed.square().sum().backward()
    torch.testing.assert_close(x.grad[0], 2 * x[0].detach())  # the identity rows' gradient passes straight through
    assert x.grad[1].abs().sum() > 0 and x.grad[3].abs().sum() > 0


def test_bf16_images_under_autocast_with_some_unmoved_keep_torch_where_dtype():
    x = images(n=4).to(torch.bfloat16)
    params = identity_params(4)
    params["rotate_pre"] = torch.tensor([0.0, 0.3, 0.0, 0.0])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = aug.apply_geometric(x, aug.geometric_matrix(params, 8))
    assert out.shape == x.shape and out.dtype == torch.float32  # grid_sample runs in fp32 under autocast
    assert torch.equal(out[0], x[0].float())
