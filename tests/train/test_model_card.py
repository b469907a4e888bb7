"""A run's own export carries its model card."""
import json

from ganforge.config import TrainConfig
from ganforge.train.api import train


def test_the_runs_export_gets_a_model_card_with_its_copy_check(tmp_path):
    cfg = TrainConfig(model="dcgan", data="mnist", steps=2, batch_size=8, out=str(tmp_path), name="r", image_size=16,
                      options={"width": 4, "z_dim": 8}, copy_check_n=50, sample_every=1000, checkpoint_every=2)
    run = train(cfg, progress=False)
    card = (run / "export" / "README.md").read_text()
    assert card.startswith("---\n") and "license:" in card
    assert "dcgan" in card and "mnist" in card
    check = json.loads((run / "copy_check.json").read_text())
    assert f"copy check by the copy check at the end of training: median nearest-training distance ratio {check['ratio']}" in card
    assert f"of {check['n_samples']} samples flagged as copies" in card
