"""The tools' argument checks: one sentence naming the value."""
import pytest

from ganforge.errors import GanforgeError
from ganforge.sampling import parse_device
from ganforge.tools import checks


def test_numbers_out_of_range_are_named():
    assert checks.positive(3, "--n") == 3 and checks.seed(2 ** 32 - 1) == 2 ** 32 - 1 and checks.truncation(-0.5) == -0.5
    with pytest.raises(GanforgeError, match="--n 0 is invalid"):
        checks.positive(0, "--n")
    with pytest.raises(GanforgeError, match="--seed 4294967296 is invalid"):
        checks.seed(2 ** 32)
    with pytest.raises(GanforgeError, match="--truncation nan is invalid"):
        checks.truncation(float("nan"))


@pytest.mark.parametrize("name,needle", [("banana", "not a device name"), ("meta", "not supported")])
def test_device_names_are_checked(name, needle):
    assert parse_device("cpu").type == "cpu"
    with pytest.raises(GanforgeError, match=needle):
        parse_device(name)
