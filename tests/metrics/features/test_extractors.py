"""Which feature network is used, and why: the choice is said, and a missing weights file is refused."""
import pytest

from ganforge.errors import GanforgeError
from ganforge.metrics.features.extractors import choose_extractor, get_extractor


@pytest.fixture(autouse=True)
def no_env_weights(monkeypatch):
    monkeypatch.delenv("GANFORGE_INCEPTION_WEIGHTS", raising=False)


def test_auto_picks_the_datas_own_classifier_and_says_why():
    assert choose_extractor("auto", "MNIST") == ("digits", "digit classifier (auto: data 'mnist' has its own shipped classifier)")
    name, why = choose_extractor("auto", "fashion_mnist")
    assert name == "fashion" and why.startswith("Fashion-MNIST classifier (auto:")


def test_unused_weights_are_mentioned_and_missing_ones_refused(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    name, why = choose_extractor("auto", "mnist", str(weights))
    assert name == "digits" and why.endswith("; pass --extractor inception to use the InceptionV3 weights given)")
    name, why = choose_extractor("digits", "some/folder", str(weights))
    assert name == "digits" and "--extractor digits" in why and "weights given" in why
    with pytest.raises(GanforgeError, match="does not exist"):
        choose_extractor("auto", "mnist", str(tmp_path / "missing.pth"))
    with pytest.raises(GanforgeError, match="does not exist"):
        get_extractor("digits", "mnist", str(tmp_path / "missing.pth"))  # the library refuses it too


def test_inception_is_chosen_for_other_data_when_weights_are_given(tmp_path, monkeypatch):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    name, why = choose_extractor("auto", str(tmp_path), str(weights))
    assert name == "inception" and str(weights) in why and "has no shipped classifier" in why
    monkeypatch.setenv("GANFORGE_INCEPTION_WEIGHTS", str(weights))
    assert choose_extractor("auto", str(tmp_path))[0] == "inception"
    assert choose_extractor("auto", "mnist")[1].endswith("classifier)")  # weights from the environment are a default, not a request
    with pytest.raises(GanforgeError, match="a folder"):
        choose_extractor("inception", "mnist", str(tmp_path))


def test_without_weights_other_data_is_refused_and_unknown_names_too(no_tf_inception):
    with pytest.raises(GanforgeError, match="no built-in feature extractor"):
        choose_extractor("auto", "some/folder")
    with pytest.raises(GanforgeError, match="were not given"):
        choose_extractor("inception", "mnist")
    with pytest.raises(GanforgeError, match="Unknown feature extractor 'vgg'"):
        choose_extractor("vgg", "mnist")
