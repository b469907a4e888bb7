"""`--set tensorboard=true` writes scalars and sample grids TensorBoard reads."""
import pytest

pytest.importorskip("tensorboard")


def test_tensorboard_callback_writes_scalars_and_images(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from ganforge.config import TrainConfig
    from ganforge.train.api import train

    cfg = TrainConfig(model="vanilla", steps=4, batch_size=8, out=str(tmp_path), name="r", log_every=2, sample_every=2,
                      checkpoint_every=100, tensorboard=True, eval_every=2, eval_n=64, copy_check_n=0, options={})
    run = train(cfg, progress=False)
    logs = run / "tensorboard"
    assert any(logs.iterdir())
    acc = EventAccumulator(str(logs)).Reload()
    tags = acc.Tags()
    assert {"train/loss_d", "train/loss_g", "train/d_real", "train/d_fake"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("train/loss_d")] == [1, 2, 3, 4]
    assert [e.step for e in acc.Scalars("eval/fd")] == [2, 4] and all(e.value > 0 for e in acc.Scalars("eval/fd"))
    assert "samples" in tags["images"] and [e.step for e in acc.Images("samples")] == [0, 2, 4]  # sample_every=2
