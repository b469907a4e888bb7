"""evaluate / score_images: real data scores near the floor, degraded data worse, generators scored."""
import math

import pytest
import torch

import ganforge.metrics as metrics
from ganforge.data import load_dataset
from ganforge.data.dataset import to_float
from ganforge.errors import GanforgeError
from ganforge.metrics.evaluate import score_images
from ganforge.models.dcgan import DCGANGenerator

KEYS = {"fd", "kid", "kid_std", "kid_subset_size", "is", "is_std", "precision", "recall", "extractor", "n"}


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """One reference cache for this test session (fresh for each session)."""
    mp = pytest.MonkeyPatch()
    mp.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "ganforge-cache"))
    yield
    mp.undo()


@pytest.fixture(scope="module")
def real():
    """2000 MNIST training images: not the test images they are compared with."""
    return load_dataset("mnist", split="train").images[:2000]


@pytest.fixture(scope="module")
def real_scores(real):
    return score_images(real, data="mnist", kid_subsets=20)


def test_real_images_score_near_the_floor(real_scores):
    assert set(real_scores) == KEYS
    assert real_scores["extractor"] == "digits" and real_scores["n"] == 2000
    assert real_scores["fd"] < 2.0
    assert abs(real_scores["kid"]) < 0.01
    assert real_scores["is"] > 9.0  # ten confidently recognised, balanced classes
    assert real_scores["precision"] > 0.6 and real_scores["recall"] > 0.6


def test_fd_rises_monotonically_with_noise(real, real_scores):
    g = torch.Generator().manual_seed(0)
    clean = to_float(real[:1000])
    noise = torch.randn(clean.shape, generator=g)
    fds = [score_images((clean + s * noise).clamp(-1, 1), data="mnist", metrics="fd")["fd"] for s in (0.0, 0.1, 0.25, 0.5, 1.0)]
    assert all(a < b for a, b in zip(fds, fds[1:])), fds
    assert fds[-1] > 20 * max(fds[0], real_scores["fd"])


def test_uint8_float_and_batches_give_the_same_scores(real):
    a = score_images(real[:500], data="mnist", metrics="fd,is")
    b = score_images(to_float(real[:500]), data="mnist", metrics=["fd", "is"])
    c = score_images(iter(to_float(real[:500]).split(64)), data="mnist", metrics=("fd", "is"))
    assert a["fd"] == pytest.approx(b["fd"], rel=1e-6) == pytest.approx(c["fd"], rel=1e-6)
    assert a["is"] == pytest.approx(c["is"], rel=1e-6)
    assert set(a) == {"fd", "is", "is_std", "extractor", "n"}


def test_one_repeated_image_has_inception_score_one_and_no_recall(real):
    same = to_float(real[:1]).repeat(300, 1, 1, 1)
    s = score_images(same, data="mnist", metrics="is,pr")
    assert s["is"] == pytest.approx(1.0, abs=1e-6)
    assert s["recall"] < 0.05


def test_evaluate_a_generator_by_the_documented_api():
    torch.manual_seed(0)
    gen = DCGANGenerator(z_dim=16, channels=1, image_size=32, width=8)
    info = {"channels": 1, "image_size": 32, "num_classes": 0, "data": "mnist", "family": "dcgan"}
    scores = metrics.evaluate(gen, info, n=300, metrics=("fd", "kid", "is", "pr"), seed=0)
    assert set(scores) == KEYS and scores["n"] == 300
    assert all(math.isfinite(scores[k]) for k in KEYS - {"extractor", "n"})
    assert scores["fd"] > 10  # an untrained generator is far from the digits
    assert metrics.evaluate(gen, info, n=300, metrics="fd", seed=0)["fd"] == pytest.approx(scores["fd"], rel=1e-9)
    assert gen.training  # evaluation leaves the module's mode alone


def test_errors_name_the_bad_value():
    gen = DCGANGenerator(z_dim=16, channels=1, image_size=32, width=8)
    with pytest.raises(GanforgeError, match="'fid'"):
        metrics.evaluate(gen, {"data": "mnist"}, n=10, metrics="fid")
    with pytest.raises(GanforgeError, match="--data"):
        metrics.evaluate(gen, {"channels": 1}, n=10)
    with pytest.raises(GanforgeError, match="translates"):
        metrics.evaluate(gen, {"kind": "translation", "data": "mnist"}, n=10)
    with pytest.raises(GanforgeError, match="expected"):
        score_images(torch.zeros(5, 28, 28), data="mnist")
    with pytest.raises(GanforgeError, match="Unknown feature extractor"):
        score_images(torch.zeros(5, 1, 28, 28), data="mnist", extractor="vgg")


def _balanced_fakes(class_images, n_per_class):
    """Fresh images of both classes of the class folder (other pixels than the folder's), float [-1, 1]."""
    uint8 = torch.cat([torch.from_numpy(class_images(c, n_per_class, seed=10 + c)) for c in (0, 1)])
    return to_float(uint8.unsqueeze(1))


def test_precision_recall_compare_with_a_random_real_subset_on_a_class_ordered_folder(class_folder, toy_extractor,
                                                                                      make_class_images, monkeypatch):
    import importlib

    evaluate_module = importlib.import_module("ganforge.metrics.evaluate")  # the module, not the function of that name

    seen = {}
    original = evaluate_module.precision_recall

    def spy(real, fake, k):
        seen["real"], seen["fake"] = real, fake
        return original(real, fake, k)

    monkeypatch.setattr(evaluate_module, "precision_recall", spy)
    fakes = _balanced_fakes(make_class_images, 20)  # 40 samples against a reference of 120 (60 dark, then 60 bright)
    scores = score_images(fakes, data=str(class_folder), metrics="pr", extractor=toy_extractor)
    bright = (seen["real"][:, 0] > 0).long()
    assert len(seen["real"]) == len(seen["fake"]) == 40
    assert 12 <= int(bright.sum()) <= 28, bright.tolist()  # the first 40 would be dark only
    # both classes on both sides; a real side of dark images only would cap precision at 0.5 (no bright
    # sample lies on its manifold)
    assert scores["precision"] > 0.75 and scores["recall"] > 0.75, scores


def test_fewer_samples_than_the_kid_subset_size_are_recorded(class_folder, toy_extractor, make_class_images):
    scores = score_images(_balanced_fakes(make_class_images, 20), data=str(class_folder), metrics="kid", extractor=toy_extractor, kid_subsets=5)
    assert scores["kid_subset_size"] == 40 and set(scores) == {"kid", "kid_std", "kid_subset_size", "extractor", "n"}
