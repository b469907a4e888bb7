"""Building blocks shared by several families."""
from ganforge.nn.configurable import Configurable

__all__ = ["Configurable"]
