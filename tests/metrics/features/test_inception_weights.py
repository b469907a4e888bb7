"""Finding the FID InceptionV3 weights where other tools cache them, and the checked download (local server only)."""
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from ganforge.errors import GanforgeError
from ganforge.metrics.features import inception_weights as iw


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No variable set; the torch hub folder under tmp_path/torch."""
    for name in (iw.ENV_VAR, iw.URL_ENV, iw.SHA_ENV, "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"w")
    return path


def test_the_hub_folder_follows_torch_home_then_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert iw.hub_checkpoints() == tmp_path / "th" / "hub" / "checkpoints"
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert iw.hub_checkpoints() == tmp_path / "xdg" / "torch" / "hub" / "checkpoints"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert iw.hub_checkpoints() == tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints"


def test_discovery_order(clean_env, monkeypatch):
    tmp = clean_env
    assert iw.find_weights() is None
    fidelity = touch(iw.hub_checkpoints() / iw.TORCH_FIDELITY_NAME)
    assert iw.find_weights() == ("torch hub cache", fidelity)
    fid = touch(iw.hub_checkpoints() / iw.PYTORCH_FID_NAME)
    assert iw.find_weights() == ("torch hub cache", fid)  # pytorch-fid's name before torch-fidelity's
    env = touch(tmp / "env.pth")
    monkeypatch.setenv(iw.ENV_VAR, str(env))
    assert iw.find_weights() == (f"${iw.ENV_VAR}", env)
    given = touch(tmp / "given.pth")
    assert iw.find_weights(given) == ("--inception-weights", given)


def test_a_given_path_that_names_no_file_is_an_error_not_a_fallback(clean_env, monkeypatch):
    touch(iw.hub_checkpoints() / iw.PYTORCH_FID_NAME)
    with pytest.raises(GanforgeError, match="does not exist"):
        iw.find_weights(clean_env / "missing.pth")
    monkeypatch.setenv(iw.ENV_VAR, str(clean_env))
    with pytest.raises(GanforgeError, match="is a folder"):
        iw.find_weights()


def test_the_offline_message_names_the_file_and_the_place(clean_env):
    text = iw.missing_sentence()
    assert iw.URL in text and str(iw.hub_checkpoints() / iw.PYTORCH_FID_NAME) in text and text.count(". ") == 0


@pytest.fixture
def server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/www; yields its base URL."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_download_accepts_the_right_file_and_writes_it_into_the_hub_cache(clean_env, server):
    base, root = server
    payload = b"not really inception weights" * 1000
    (root / "w.pth").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    path = iw.download_weights(url=f"{base}/w.pth", sha256=digest)
    assert path == iw.hub_checkpoints() / iw.PYTORCH_FID_NAME and path.read_bytes() == payload
    assert iw.find_weights() == ("torch hub cache", path)
    assert [p.name for p in path.parent.iterdir()] == [iw.PYTORCH_FID_NAME]  # no partial file left behind
    # a hash prefix (the file-name convention of torch.hub) is accepted too; so are the environment overrides
    path.unlink()
    assert iw.download_weights(url=f"{base}/w.pth", sha256=digest[:8]) == path


def test_download_refuses_a_wrong_file_and_saves_nothing(clean_env, server, monkeypatch):
    base, root = server
    (root / "w.pth").write_bytes(b"tampered")
    monkeypatch.setenv(iw.URL_ENV, f"{base}/w.pth")
    monkeypatch.setenv(iw.SHA_ENV, hashlib.sha256(b"the real thing").hexdigest())
    with pytest.raises(GanforgeError, match="does not match"):
        iw.download_weights()
    folder = iw.hub_checkpoints()
    assert not folder.exists() or list(folder.iterdir()) == []
    with pytest.raises(GanforgeError, match="does not match"):  # the default check: the file name's hash prefix
        iw.download_weights(url=f"{base}/w.pth", sha256=iw.SHA256_PREFIX)


def test_an_unreachable_server_is_one_sentence_naming_the_file_and_the_place(clean_env, server):
    base, _ = server
    with pytest.raises(GanforgeError, match="could not be downloaded") as info:
        iw.download_weights(url=f"{base}/absent.pth")
    assert str(iw.hub_checkpoints() / iw.PYTORCH_FID_NAME) in str(info.value)
