"""Each family declares the run settings it reads; one it ignores, set away from its default, is refused."""
import pytest
import torch

from ganforge.config import FAMILY_KEYS, TrainConfig
from ganforge.contract import DataInfo, Runtime
from ganforge.errors import GanforgeError
from ganforge.games.registry import family_names, get_family
from ganforge.train.run_dir import new_run, open_run, resolve_defaults


def cfg_for(family, tmp_path, **kw):
    values = dict(model=family, steps=2, batch_size=8, out=str(tmp_path), name=f"{family}-run", device="cpu")
    values.update(get_family(family).tiny)
    values.update(kw)
    return TrainConfig(**values)


@pytest.mark.parametrize("key,value", [("lr_g", 1e-3), ("n_critic", 2), ("augment", "ada"), ("beta1", 0.0)])
def test_the_vae_refuses_gan_settings_in_one_sentence(tmp_path, key, value):
    with pytest.raises(GanforgeError, match=rf"^Config value {key}={value!r} is not read by model 'vae'; expected it unset \(.*beta2\)\.$"):
        new_run(cfg_for("vae", tmp_path, **{key: value}))
    assert not (tmp_path / "vae-run").exists()


def test_families_without_augmentation_refuse_it(tmp_path):
    for family in ("cyclegan", "pix2pix", "srgan", "toy"):
        with pytest.raises(GanforgeError, match=f"augment='diffaugment' is not read by model '{family}'"):
            resolve_defaults(cfg_for(family, tmp_path, augment="diffaugment"))
    assert resolve_defaults(cfg_for("dcgan", tmp_path, augment="diffaugment")).augment == "diffaugment"


def test_stylegan_reads_lr_g_only_when_its_own_lr_is_null(tmp_path):
    with pytest.raises(GanforgeError, match="lr_g=0.001 is not read by model 'stylegan'"):
        resolve_defaults(cfg_for("stylegan", tmp_path, lr_g=1e-3))
    tiny = get_family("stylegan").tiny["options"]
    cfg = resolve_defaults(cfg_for("stylegan", tmp_path, lr_g=1e-3, options={**tiny, "lr": None}))
    assert cfg.lr_g == 1e-3
    game = get_family("stylegan").build(cfg, get_family("stylegan").options(**cfg.options), DataInfo(1, 16),
                                        Runtime(torch.device("cpu")))
    assert game.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-3)


def test_learning_rates_left_unset_take_the_family_s_and_given_ones_stay(tmp_path):
    assert get_family("dcgan").default_lr == 4e-4 and get_family("cgan").default_lr == 2e-4
    dcgan = resolve_defaults(cfg_for("dcgan", tmp_path))
    assert (dcgan.lr_g, dcgan.lr_d) == (4e-4, 4e-4)
    assert (resolve_defaults(cfg_for("cgan", tmp_path)).lr_g, resolve_defaults(cfg_for("pix2pix", tmp_path)).lr_d) == (2e-4, 2e-4)
    given = resolve_defaults(cfg_for("dcgan", tmp_path, lr_g=2e-4))  # the old default, given: kept, not replaced
    assert (given.lr_g, given.lr_d) == (2e-4, 4e-4)
    # a family that does not read them leaves them unset, so its saved config reopens without a refusal
    cfg, run_dir = new_run(cfg_for("vae", tmp_path))
    assert (cfg.lr_g, cfg.lr_d) == (None, None)
    assert open_run(run_dir)[0] == cfg


def test_a_game_built_from_an_unresolved_config_names_the_unset_learning_rate():
    family = get_family("dcgan")
    with pytest.raises(GanforgeError, match="^The learning rate of optimizer 'generator' is unset; expected lr_g and lr_d"):
        family.build(TrainConfig(model="dcgan", loss="non_saturating"), family.options(width=2, z_dim=4), DataInfo(1, 8),
                     Runtime(torch.device("cpu")))


def test_the_vae_resolves_no_loss_and_a_saved_config_reopens(tmp_path):
    cfg, run_dir = new_run(cfg_for("vae", tmp_path))
    assert cfg.loss is None
    reopened, _, _ = open_run(run_dir)
    assert reopened == cfg


def test_every_family_declares_keys_among_the_family_dependent_ones():
    for name in family_names():
        family = get_family(name)
        reads = family.keys_read(family.options())
        assert reads <= set(FAMILY_KEYS), name
        assert ("loss" in reads) == (family.default_loss is not None), name


@pytest.mark.parametrize("family", family_names())
def test_each_family_s_batch_source_keeps_the_batches_contract(family, tmp_path):
    from ganforge.train.sources import image_source

    fam = get_family(family)
    cfg = resolve_defaults(cfg_for(family, tmp_path))
    options = fam.options(**cfg.options)
    source = (fam.load_data or image_source)(cfg, options, Runtime(torch.device("cpu")))
    assert isinstance(source.info, DataInfo)  # set when the source was made
    assert source.steps_per_epoch >= 1
    state = source.state_dict()
    first = source.next()
    source.load_state_dict(state)
    again = source.next()
    assert first.keys() == again.keys() and all(torch.equal(first[k], again[k]) for k in first)


def test_r2_gamma_is_read_where_penalties_come_from_the_run(tmp_path):
    for family in ("dcgan", "srgan"):  # srgan's R1 is its option r1_gamma, its R2 the run's
        assert resolve_defaults(cfg_for(family, tmp_path, r2_gamma=0.5)).r2_gamma == 0.5
    for family in ("vae", "r3gan"):  # vae has no D; r3gan's option gamma weighs both
        with pytest.raises(GanforgeError, match=f"r2_gamma=0.5 is not read by model '{family}'"):
            resolve_defaults(cfg_for(family, tmp_path, r2_gamma=0.5))
    with pytest.raises(GanforgeError, match="lr_g=0.001 is not read by model 'r3gan'"):
        resolve_defaults(cfg_for("r3gan", tmp_path, lr_g=1e-3))
