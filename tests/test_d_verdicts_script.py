"""benchmarks/d_verdicts.py: D's logits on training, held-out and generated images, four ways, the run untouched."""
import hashlib
import math
import sys
from pathlib import Path

import pytest

from ganforge.config import TrainConfig
from ganforge.train.api import train

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import d_verdicts  # noqa: E402


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def fastgan_run(tmp_path_factory):
    """Two rounds of FastGAN (BatchNorm in D, DiffAugment) on MNIST, which has a held-out split."""
    out = tmp_path_factory.mktemp("runs")
    return train(TrainConfig(model="fastgan", name="fg", data="mnist", steps=2, batch_size=4, image_size=64, out=str(out),
                             log_every=1, sample_every=2, checkpoint_every=2, copy_check_n=0, options={"width": 2, "z_dim": 8}),
                 progress=False)


def test_four_ways_on_three_sets_leave_the_run_as_it_was(fastgan_run):
    before = digests(fastgan_run)
    result = d_verdicts.verdicts(fastgan_run, passes=1, n=64)
    assert digests(fastgan_run) == before
    assert (result["run"], result["step"], result["augment"], result["batch"]) == ("fg", 2, "diffaugment", 4)
    ways = result["ways"]
    assert [(w["batchnorm"], w["augmented"]) for w in ways] == list(d_verdicts.WAYS)
    for w in ways:
        for name in d_verdicts.SETS:
            assert math.isfinite(w[name]["mean"]) and -1 <= w[name]["r_t"] <= 1
        assert w["gap"] == pytest.approx(w["train"]["mean"] - w["held_out"]["mean"])
    plain_eval, plain_train, augmented_eval, _ = ways
    assert plain_train["train"]["mean"] != pytest.approx(plain_eval["train"]["mean"])  # batch statistics, not running ones
    assert augmented_eval["train"]["mean"] != pytest.approx(plain_eval["train"]["mean"])  # DiffAugment was applied
    assert d_verdicts.verdicts(fastgan_run, passes=1, n=64) == result  # seeded
    rows = d_verdicts.table([result]).splitlines()
    assert len(rows) == 2 + 4 and rows[2].startswith("| fg | 2 | eval | plain |") and "| train | diffaugment |" in rows[5]


def test_a_folder_that_is_not_a_run_is_named_and_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["d_verdicts.py", str(tmp_path)])
    with pytest.raises(SystemExit, match="has no config.yaml"):
        d_verdicts.main()
