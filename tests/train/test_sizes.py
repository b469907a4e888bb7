"""Sizes refused before memory is spent: players weighed on the meta device, batches and datasets by their shapes."""
import pytest
import yaml

from ganforge.cli import main
from ganforge.config import TrainConfig
from ganforge.data import load_dataset
from ganforge.errors import GanforgeError
from ganforge.train.api import train


@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if any dataset is loaded."""
    import ganforge.data as data

    def refuse(*args, **kwargs):
        pytest.fail("the dataset was loaded before the size was refused")

    monkeypatch.setattr(data, "DATASETS", {name: refuse for name in data.DATASETS})


def _cfg(tmp_path, **kw):
    base = dict(model="dcgan", data="mnist", steps=2, batch_size=8, out=str(tmp_path), name="r", copy_check_n=0,
                options={"width": 4, "z_dim": 8})
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("change,needle", [
    (dict(image_size=300), "Image size 300 is not supported by DCGAN"),
    (dict(options={"width": 10 ** 9, "channel_max": 0}), "too large to address, needing far more than"),
    (dict(options={"width": 10 ** 5, "channel_max": 0}), "parameters, needing about .* GiB for weights, gradients and optimizer state"),
    (dict(options={"z_dim": 10 ** 9, "width": 4}), "parameters, needing about"),
    (dict(batch_size=10 ** 9), "Batch size 1000000000 at 32x32 needs .* GiB for one batch alone"),
])
def test_sizes_are_refused_before_the_data_loads(tmp_path, no_data, change, needle):
    with pytest.raises(GanforgeError, match=needle):
        train(_cfg(tmp_path, **change), progress=False)
    assert not (tmp_path / "r").exists()


def test_an_edited_config_yaml_is_weighed_on_resume(tmp_path, capsys):
    run = train(_cfg(tmp_path), progress=False)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    saved["options"]["width"], saved["options"]["channel_max"] = 10 ** 9, 0
    (run / "config.yaml").write_text(yaml.safe_dump(saved))
    before = (run / "metrics.jsonl").read_text()
    assert main(["train", "--resume", str(run), "--steps", "4", "--no-progress"]) == 2
    assert "too large to address" in capsys.readouterr().err
    assert (run / "metrics.jsonl").read_text() == before


def test_a_named_dataset_is_weighed_before_it_is_resized():
    with pytest.raises(GanforgeError, match=r"Dataset 'mnist' at image size 300 needs 5.03 GiB as uint8 \(60000, 1, 300, 300\)"):
        load_dataset("mnist", image_size=300, memory_budget=2 ** 30)
    assert load_dataset("mnist", split="test", image_size=8, memory_budget=2 ** 30).images.shape == (10000, 1, 8, 8)
