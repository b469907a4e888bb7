"""The command-line checks: one sentence naming the value, from a Python caller or from any subcommand's argparse."""
import argparse

import pytest

from ganforge import arguments
from ganforge.cli import build_parser, main
from ganforge.errors import GanforgeError
from ganforge.sampling import parse_device


def test_numbers_out_of_range_are_named():
    assert arguments.positive_int.check(3, "--n") == 3 and arguments.seed(str(2 ** 32 - 1)) == 2 ** 32 - 1
    assert arguments.finite_float.check(-0.5, "--truncation") == -0.5
    with pytest.raises(GanforgeError, match="--n 0 is invalid"):
        arguments.positive_int.check(0, "--n")
    with pytest.raises(GanforgeError, match="--seed 4294967296 is invalid"):
        arguments.seed.check(2 ** 32, "--seed")
    with pytest.raises(GanforgeError, match="--truncation nan is invalid"):
        arguments.finite_float.check(float("nan"), "--truncation")


@pytest.mark.parametrize("name,needle", [("banana", "not a device name"), ("meta", "not supported")])
def test_device_names_are_checked(name, needle):
    assert parse_device("cpu").type == "cpu"
    with pytest.raises(GanforgeError, match=needle):
        parse_device(name)


@pytest.mark.parametrize("rule,text,value", [
    (arguments.positive_int, "7", 7), (arguments.non_negative_int, "0", 0), (arguments.seed, "4294967295", 2 ** 32 - 1),
    (arguments.port, "65535", 65535), (arguments.finite_float, "-2.5", -2.5), (arguments.positive_float, "1e-4", 1e-4),
    (arguments.non_negative_float, "0", 0.0), (arguments.integer, "-3", -3),
])
def test_a_rule_reads_the_values_it_accepts(rule, text, value):
    assert rule(text) == value


@pytest.mark.parametrize("rule,text,expected", [
    (arguments.positive_int, "0", "an integer >= 1"), (arguments.positive_int, "2.5", "an integer >= 1"),
    (arguments.non_negative_int, "-1", "an integer >= 0"), (arguments.seed, "4294967296", "an integer from 0 to 2**32 - 1"),
    (arguments.seed, "-1", "an integer from 0 to 2**32 - 1"), (arguments.port, "0", "a port from 1 to 65535"),
    (arguments.finite_float, "nan", "a finite number"), (arguments.positive_float, "0", "a finite number > 0"),
    (arguments.positive_float, "inf", "a finite number"), (arguments.non_negative_float, "-0.1", "a finite number >= 0"),
    (arguments.integer, "three", "an integer"),
])
def test_a_rule_refuses_a_value_naming_it_and_what_was_expected(rule, text, expected):
    with pytest.raises(arguments.Invalid) as caught:
        rule(text)
    assert caught.value.text == text and caught.value.expected == expected
    assert caught.value.sentence("--n") == f"Option --n {text} is invalid (n={text}); expected {expected}."


def test_a_tool_s_device_is_resolved_and_a_run_s_device_setting_kept_as_given():
    import torch

    assert arguments.device("cpu") == "cpu" and arguments.device_setting("auto") == "auto"
    assert arguments.device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    for rule in (arguments.device, arguments.device_setting):
        with pytest.raises(GanforgeError, match="'banana' is not a device name"):
            rule("banana")


def test_the_one_seed_limit_is_the_training_config_s():
    from ganforge.config import SEED_LIMIT, TrainConfig

    assert arguments.seed(str(SEED_LIMIT - 1)) == SEED_LIMIT - 1
    with pytest.raises(arguments.Invalid):
        arguments.seed(str(SEED_LIMIT))
    with pytest.raises(GanforgeError, match=r"seed=4294967296 is invalid; expected an integer from 0 to 2\*\*32 - 1"):
        TrainConfig(seed=SEED_LIMIT).validate()


@pytest.mark.parametrize("argv,needle", [
    (["sample", "m", "--out", "o", "--n", "0"], "Option --n 0 is invalid (n=0); expected an integer >= 1."),
    (["sample", "m", "--out", "o", "--seed", "4294967296"], "Option --seed 4294967296 is invalid (seed=4294967296); expected an integer from 0 to 2**32 - 1."),
    (["sample", "m", "--out", "o", "--truncation", "nan"], "Option --truncation nan is invalid"),
    (["eval", "m", "--batch-size", "many"], "Option --batch-size many is invalid (batch_size=many); expected an integer >= 1."),
    (["train", "--minutes", "-1"], "Option --minutes -1 is invalid (minutes=-1); expected a finite number > 0."),
    (["train", "--seed", "x"], "Option --seed x is invalid (seed=x); expected an integer from 0 to 2**32 - 1."),
    (["serve", "m", "--port", "70000"], "Option --port 70000 is invalid (port=70000); expected a port from 1 to 65535."),
    (["upscale", "m", "i", "--out", "o", "--tile", "-1"], "Option --tile -1 is invalid (tile=-1); expected an integer >= 0."),
    (["theory", "r", "--out", "o", "--bandwidth", "0"], "Option --bandwidth 0 is invalid"),
    (["translate", "m", "i", "--out", "o", "--device", "banana"], "Device 'banana' is not a device name"),
    (["directions", "m", "--out", "", "--k", "3"], "Option --out '' is invalid"),
    (["prepare", "f", "--out", "o", "--size", "0"], "Option --size 0 is invalid"),
    (["mix", "m", "--out", "o", "--rows", "0"], "Option --rows 0 is invalid"),
    (["sample", "m", "--out", "o", "--n"], "Option --n: expected one argument."),
    (["sample", "m"], "The following arguments are required: --out"),
    (["sample", "m", "--out", "o", "--colour", "red"], "Unrecognized arguments: --colour red"),
])
def test_a_subcommand_refuses_a_bad_value_before_running_with_one_sentence_and_status_2(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err and "usage:" not in err, err
    assert lines[0].startswith(f"ganforge {argv[0]}: error: ") and needle in lines[0], err


def _numeric_options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {flag}", kind) for flag, kind in _numeric_options(sub))
        elif action.type in (int, float):
            yield "/".join(action.option_strings) or action.dest, action.type


def test_no_subcommand_reads_a_number_with_a_bare_int_or_float():
    assert list(_numeric_options(build_parser()[0])) == []
