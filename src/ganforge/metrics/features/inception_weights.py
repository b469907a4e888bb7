"""Where the FID InceptionV3 weights are: found where other FID tools keep them, or fetched once on request.

Discovery order (the first that names an existing file wins):
  1. the path given (`ganforge eval --inception-weights PATH`);
  2. $GANFORGE_INCEPTION_WEIGHTS;
  3. the torch hub checkpoint folder, ($TORCH_HOME, else $XDG_CACHE_HOME/torch, else ~/.cache/torch)/hub/checkpoints,
     under the file names pytorch-fid (pt_inception-2015-12-05-6726825d.pth) and torch-fidelity
     (weights-inception-2015-12-05-6726825d.pth) save them as.
A path that is given (1 or 2) but names no file is an error, not a reason to look further.

`download_weights` (`ganforge eval --download-inception`) fetches pytorch-fid's release file with urllib,
checks its SHA-256 and moves it into the hub checkpoint folder atomically. The file name carries the
first 8 hex digits of the file's SHA-256 (torch.hub's convention, which its check_hash verifies); that
prefix is what is checked unless a full hash is given ($GANFORGE_INCEPTION_SHA256 or `sha256=`).
The URL can be overridden too ($GANFORGE_INCEPTION_URL or `url=`), e.g. for a mirror or a test server.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

from ganforge.errors import GanforgeError

ENV_VAR = "GANFORGE_INCEPTION_WEIGHTS"
URL_ENV, SHA_ENV = "GANFORGE_INCEPTION_URL", "GANFORGE_INCEPTION_SHA256"
PYTORCH_FID_NAME = "pt_inception-2015-12-05-6726825d.pth"
TORCH_FIDELITY_NAME = "weights-inception-2015-12-05-6726825d.pth"
CACHE_NAMES = (PYTORCH_FID_NAME, TORCH_FIDELITY_NAME)
URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + PYTORCH_FID_NAME
SHA256_PREFIX = "6726825d"  #: the hash part of the file name: the first 8 hex digits of its SHA-256


def hub_checkpoints() -> Path:
    """torch hub's checkpoint folder: $TORCH_HOME/hub/checkpoints, else $XDG_CACHE_HOME/torch/..., else ~/.cache/torch/..."""
    home = os.environ.get("TORCH_HOME")
    if not home:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def candidates(path: Optional[str | os.PathLike] = None) -> list[tuple[str, Path]]:
    """(where it comes from, path) in discovery order: the path given, the variable, the hub cache names."""
    found = []
    if path:
        found.append(("--inception-weights", Path(path).expanduser()))
    if os.environ.get(ENV_VAR):
        found.append((f"${ENV_VAR}", Path(os.environ[ENV_VAR]).expanduser()))
    folder = hub_checkpoints()
    found += [("torch hub cache", folder / name) for name in CACHE_NAMES]
    return found


def find_weights(path: Optional[str | os.PathLike] = None) -> Optional[tuple[str, Path]]:
    """(source, file) of the first weights found, or None; a given path (argument or variable) that names no file is an error."""
    for source, candidate in candidates(path):
        if source != "torch hub cache":
            if candidate.is_dir():
                raise GanforgeError(f"InceptionV3 weights path {str(candidate)!r} ({source}) is a folder; "
                                    "expected the FID Inception state dict file (.pth or .safetensors).")
            if not candidate.is_file():
                raise GanforgeError(f"InceptionV3 weights file {str(candidate)!r} ({source}) does not exist; "
                                    "expected the FID Inception state dict (.pth or .safetensors).")
            return source, candidate
        if candidate.is_file():
            return source, candidate
    return None


def missing_sentence() -> str:
    """One sentence naming what to download and where to put it."""
    return (f"No InceptionV3 FID weights were found; expected {URL} saved as {str(hub_checkpoints() / PYTORCH_FID_NAME)!r} "
            f"(or run `ganforge eval --download-inception`, or pass --inception-weights PATH / set {ENV_VAR}=PATH).")


def download_weights(url: Optional[str] = None, sha256: Optional[str] = None, folder: Optional[Path] = None,
                     name: str = PYTORCH_FID_NAME, timeout: float = 60.0) -> Path:
    """Fetch the weights into the hub checkpoint folder (or `folder`), checked against `sha256` (full hash or prefix);
    the file appears whole or not at all, and a file that fails the check is removed and reported in one sentence."""
    url = url or os.environ.get(URL_ENV) or URL
    expected = (sha256 or os.environ.get(SHA_ENV) or SHA256_PREFIX).lower()
    folder = Path(folder) if folder is not None else hub_checkpoints()
    target = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GanforgeError(f"Folder {str(folder)!r} cannot be created ({exc.strerror or type(exc).__name__}); "
                            "expected a writable place for the InceptionV3 weights (set $TORCH_HOME).") from None
    tmp = folder / f".{name}.{os.getpid()}.part"
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                h.update(block)
                out.write(block)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__
        raise GanforgeError(f"InceptionV3 weights could not be downloaded from {url} ({reason}); expected that file saved as "
                            f"{str(target)!r} (download it elsewhere and copy it there, or pass --inception-weights PATH).") from None
    digest = h.hexdigest()
    if not digest.startswith(expected):
        tmp.unlink(missing_ok=True)
        raise GanforgeError(f"The file downloaded from {url} has SHA-256 {digest}, which does not match the expected "
                            f"{expected}; expected the pt_inception-2015-12-05 weights (nothing was saved).")
    os.replace(tmp, target)
    return target
