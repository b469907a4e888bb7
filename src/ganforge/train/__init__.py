"""The referee: one generic training loop (`loop.py`) and what is handed to it (`api.py`)."""


def __getattr__(name: str):
    """`ganforge.train.train` and `default_callbacks`, imported on first use."""
    if name in ("train", "default_callbacks"):
        from ganforge.train import api

        return getattr(api, name)
    raise AttributeError(name)
