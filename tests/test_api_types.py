"""The public API checks what it is given as the CLI checks files: every function in
accelsim.__all__ answers a wrong value with AccelsimError, ValueError or TypeError and a
one-line message, and a Trace or Layer built in Python goes through the checks a loaded one
does."""

import dataclasses
import inspect

import numpy as np
import pytest
from conftest import random_conv_layer, random_linear_layer

import accelsim
from accelsim import Trace
from accelsim.core.resources import Limits

ALLOWED = (accelsim.AccelsimError, ValueError, TypeError)
WRONG = [None, 3, -1.5, float("nan"), True, "", "eie", b"x", [], [None], ["eie"], {"a": 1},
         object(), np.zeros(3)]
FUNCTIONS = [name for name in accelsim.__all__ if inspect.isfunction(getattr(accelsim, name))]


def _required(function):
    return [p for p in inspect.signature(function).parameters.values()
            if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_public_function_refuses_wrong_values_in_one_line(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a call writes by mistake lands here
    function = getattr(accelsim, name)
    required = _required(function)
    for value in WRONG:
        try:
            function(*[value] * len(required))  # every required argument wrong
        except ALLOWED as exc:
            assert str(exc) and "\n" not in str(exc), (name, value, str(exc))
        except BaseException as exc:  # noqa: BLE001 - the assertion names what leaked
            pytest.fail(f"{name}({value!r}) raised {type(exc).__name__}: {exc}")
    assert not list(tmp_path.iterdir()), f"{name} wrote {list(tmp_path.iterdir())}"


def _conv(**changes):
    return dataclasses.replace(random_conv_layer(np.random.default_rng(0), "conv"), **changes)


# (what is wrong, the Trace built in Python, part of the one-line message)
BAD_TRACES = [
    ("channels", lambda: Trace([_conv(weight=np.ones((4, 2, 3, 3), "float32"))]),
     "channels per group"),
    ("kernel bigger than the input", lambda: Trace([_conv(weight=np.ones((4, 4, 11, 11), "float32"))]),
     "does not fit input"),
    ("stride -1", lambda: Trace([_conv(stride=-1)]), "stride (-1, -1)"),
    ("stride 0", lambda: Trace([_conv(stride=0)]), "stride (0, 0)"),
    ("groups 0", lambda: Trace([_conv(groups=0)]), "groups=0"),
    ("total row's name", lambda: Trace([_conv(name="TOTAL")]), "reserved"),
    ("empty name", lambda: Trace([_conv(name="")]), "1 to 200 characters"),
    ("line break in a name", lambda: Trace([_conv(name="a\nb")]), "holds a line break"),
    ("empty weights", lambda: Trace([_conv(weight=np.ones((0, 4, 3, 3), "float32"))]),
     "empty dimension"),
    ("duplicate names", lambda: Trace([_conv(), _conv()]), "unique"),
    ("independent_layers 'no'", lambda: Trace([_conv()], independent_layers="no"),
     "independent_layers must be True or False"),
    ("model not text", lambda: Trace([_conv()], model=3), "model must be text"),
    ("no layers", lambda: Trace([]), "non-empty list of layers"),
    ("a layer that is not a Layer", lambda: Trace(["conv"]), "not a Layer"),
    ("weights not an array", lambda: Trace([_conv(weight=[[1.0]])]), "NumPy array"),
    ("samples differ", lambda: Trace([random_linear_layer(np.random.default_rng(0), "a", samples=1),
                                      random_linear_layer(np.random.default_rng(0), "b", samples=2)]),
     "same number of samples"),
]


@pytest.mark.parametrize("what, build, message", BAD_TRACES, ids=[b[0] for b in BAD_TRACES])
def test_a_trace_built_in_python_is_checked_like_a_loaded_one(what, build, message, tmp_path):
    try:
        trace = build()
    except ALLOWED as exc:  # refused at construction (a Layer's own fields)
        assert message in str(exc) or "integer" in str(exc)
        return
    for call in (lambda: accelsim.simulate("eie", trace),
                 lambda: accelsim.save_trace(trace, tmp_path / "t"),
                 lambda: accelsim.compare(["eie"], [trace], tmp_path / "out"),
                 lambda: accelsim.compare(["eie"], [trace], tmp_path / "out", limits=Limits())):
        with pytest.raises(ALLOWED, match=None) as caught:
            call()
        assert message in str(caught.value) and "\n" not in str(caught.value)
    assert not list(tmp_path.iterdir())


def test_an_arch_config_built_in_python_is_checked_like_a_loaded_one():
    config = accelsim.load_arch("eie")
    bad = dataclasses.replace(config, clock_mhz=-5)
    trace = Trace([random_linear_layer(np.random.default_rng(0))])
    with pytest.raises(accelsim.ConfigError, match="clock_mhz"):
        accelsim.simulate(bad, trace)
    with pytest.raises(TypeError, match="must be a list"):
        accelsim.compare("eie", [trace], "out")
    with pytest.raises(TypeError, match="overrides must map"):
        accelsim.load_arch("eie", ["x"])
    with pytest.raises(ValueError, match="overrides apply to a config file"):
        accelsim.load_arch(config, {"memory.buffers.sparse_matrix.bank_kb": 256})
    assert accelsim.load_arch(config) is config
