"""Layer configs: every public layer round-trips through JSON; errors name what to fix.

To add a layer: put a constructor case for it in ``CASES`` (a factory, the
input, and optionally how to call it). ``test_every_public_layer_has_a_case``
fails for a public Layer subclass without one.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch
from torch import nn

import seqkit.layers as L
from seqkit import ConfigError
from seqkit.layers import Layer
from seqkit.layers import _config
from seqkit.layers._activations import Activation
from seqkit.layers._config import layer_from_config, layer_to_config
from seqkit.layers._losses import MeanSquaredError

# Public Layer subclasses that are bases, not layers one constructs.
BASES = {"Layer", "Preprocessor", "Recurrent"}  # base classes, never built directly


def cls(name: str) -> type:
    """A public layer class; the case is skipped while the class is not public yet."""
    if name not in L.__all__:
        pytest.skip(f"seqkit.layers.{name} is not public yet")
    return getattr(L, name)


def seq(f=3, t=5, n=2):
    return torch.randn(n, f, t)


def mask_of(n=2, t=5):
    """Example 0 has every step; example 1 is padded at both ends."""
    mask = torch.ones(n, t)
    mask[1, 0] = 0.0
    mask[1, -1] = 0.0
    return mask


@dataclass
class Case:
    """How to construct, feed and call one configuration of a layer.

    ``make`` builds the layer (lazily, or with ``n_in``); ``x`` makes the input,
    whose dim 1 is ``n_in``; ``mask`` passes ``mask_of`` for dim 2 (time);
    ``call`` replaces ``layer(x[, mask])``.
    """

    make: Callable[[], nn.Module]
    x: Callable[[], torch.Tensor] = seq
    mask: bool = True
    call: Callable | None = None


def _user_cell():
    return UserCell(4)


CASES: dict[str, list[Case]] = {
    # feed-forward, output, convolution
    "Dense": [Case(lambda: cls("Dense")(4, activation="relu")),
              Case(lambda: cls("Dense")(2, 3, activation=Activation("tanh"), use_bias=False),
                   x=lambda: torch.randn(4, 3), mask=False)],
    "Output": [Case(lambda: cls("Output")(3, loss=MeanSquaredError(), activation="identity"),
                    x=lambda: torch.randn(4, 5), mask=False)],
    "RnnOutput": [Case(lambda: cls("RnnOutput")(3, activation="softmax", loss="mcxent"))],
    "RnnLoss": [Case(lambda: cls("RnnLoss")(activation="sigmoid", loss="xent"))],
    "Conv1D": [Case(lambda: cls("Conv1D")(4, 3, dilation=2, activation="relu")),
               Case(lambda: cls("Conv1D")(2, 2, 3, padding="same", use_bias=False))],
    "Conv2D": [Case(lambda: cls("Conv2D")(4, (3, 2), stride=(1, 2), padding="same",
                                          activation="relu"),
                    x=lambda: torch.randn(2, 2, 3, 6, 6))],
    "Subsampling2D": [Case(lambda: cls("Subsampling2D")(2, pooling="avg", padding=(1, 0)),
                           x=lambda: torch.randn(2, 2, 3, 6, 6))],
    # pooling, normalisation, activation, residual blocks
    "GlobalPooling": [Case(lambda: cls("GlobalPooling")("pnorm", 3)),
                      Case(lambda: cls("GlobalPooling")("max", n_in=2), x=lambda: torch.randn(2, 2, 4, 4),
                           mask=False)],
    "BatchNorm": [Case(lambda: cls("BatchNorm")(momentum=0.9, eps=1e-5)),
                  Case(lambda: cls("BatchNorm")(3), x=lambda: torch.randn(4, 3), mask=False)],
    "LayerNorm": [Case(lambda: cls("LayerNorm")(eps=1e-5))],
    "Activation": [Case(lambda: cls("Activation")("hard_sigmoid_keras2")),
                   Case(lambda: cls("Activation")(Activation("softmax"), 3))],
    "Residual": [Case(lambda: cls("Residual")([cls("Conv1D")(4, 3, padding="same"), cls("BatchNorm")(),
                                               cls("Activation")("relu"), cls("LSTM")(4)])),
                 Case(lambda: cls("Residual")(cls("Residual")([cls("Dense")(3)], projection="always"),
                                              projection="never"))],
    # preprocessors
    "CnnToFeedForward": [Case(lambda: cls("CnnToFeedForward")(), x=lambda: torch.randn(2, 3, 4, 4),
                              mask=False)],
    "CnnToRnn": [Case(lambda: cls("CnnToRnn")(6, 6, 2), x=lambda: torch.randn(2, 2, 3, 6, 6))],
    "RnnToFeedForward": [Case(lambda: cls("RnnToFeedForward")())],
    "FeedForwardToRnn": [Case(lambda: cls("FeedForwardToRnn")(), x=lambda: torch.randn(10, 3),
                              mask=False, call=lambda layer, x: layer(x, batch_size=2))],
    # recurrent layers and cells
    "LSTM": [Case(lambda: cls("LSTM")(4, activation="softsign", forget_gate_bias_init=0.5,
                                      return_state=True)),
             Case(lambda: cls("LSTM")(4, 3, return_sequences=False, go_backwards=True))],
    "GRU": [Case(lambda: cls("GRU")(4, reset_after=False, dropout=0.25))],
    "SimpleRNN": [Case(lambda: cls("SimpleRNN")(4, activation="relu", stateful=True))],
    "GravesLSTM": [Case(lambda: cls("GravesLSTM")(4, gate_activation="hard_sigmoid"))],
    "RNN": [Case(lambda: cls("RNN")(cls("GRUCell")(4), return_state=True)),
            Case(lambda: cls("RNN")([cls("LSTMCell")(4), cls("SimpleRNNCell")(2)])),
            Case(lambda: cls("RNN")(_user_cell()))],
    "LSTMCell": [Case(lambda: cls("LSTMCell")(4, use_bias=False), x=lambda: torch.randn(2, 3),
                      mask=False, call=lambda c, x: c(x, (torch.ones(2, 4), torch.ones(2, 4))))],
    "GRUCell": [Case(lambda: cls("GRUCell")(4), x=lambda: torch.randn(2, 3), mask=False,
                     call=lambda c, x: c(x, (torch.ones(2, 4),)))],
    "SimpleRNNCell": [Case(lambda: cls("SimpleRNNCell")(4, activation="elu"),
                           x=lambda: torch.randn(2, 3), mask=False,
                           call=lambda c, x: c(x, (torch.ones(2, 4),)))],
    "StackedRNNCells": [Case(lambda: cls("StackedRNNCells")([cls("GRUCell")(4), cls("LSTMCell")(2)]),
                             x=lambda: torch.randn(2, 3), mask=False,
                             call=lambda c, x: c(x, (torch.ones(2, 4),
                                                     (torch.ones(2, 2), torch.ones(2, 2)))))],
    "ConvLSTM1D": [Case(lambda: cls("ConvLSTM1D")(3, 3, padding="same", return_state=True),
                        x=lambda: torch.randn(2, 2, 5, 7))],
    "ConvLSTM2D": [Case(lambda: cls("ConvLSTM2D")(2, (3, 2), strides=(1, 2),
                                                  recurrent_activation="hard_sigmoid",
                                                  return_sequences=False),
                        x=lambda: torch.randn(2, 2, 5, 6, 6))],
    "ConvLSTM3D": [Case(lambda: cls("ConvLSTM3D")(2, 2, unit_forget_bias=False),
                        x=lambda: torch.randn(2, 1, 5, 3, 3, 3))],
    # wrappers (nested configs)
    "Bidirectional": [Case(lambda: cls("Bidirectional")(cls("ConvLSTM1D")(2, 3), mode="ave"),
                           x=lambda: torch.randn(2, 2, 5, 6)),
                      Case(lambda: cls("Bidirectional")(cls("LSTM")(4, return_state=True))),
                      Case(lambda: cls("Bidirectional")(cls("LastTimeStep")(cls("GRU")(3)),
                                                        mode="sum"))],
    "LastTimeStep": [Case(lambda: cls("LastTimeStep")(cls("SimpleRNN")(4))),
                     Case(lambda: cls("LastTimeStep")(cls("ConvLSTM1D")(2, 3)),
                          x=lambda: torch.randn(2, 2, 5, 6))],
    "MaskZero": [Case(lambda: cls("MaskZero")(cls("LSTM")(4), mask_value=math.nan)),
                 Case(lambda: cls("MaskZero")(cls("ConvLSTM1D")(2, 3), mask_value=-1),
                      x=lambda: torch.randn(2, 2, 5, 6))],
    "TimeDistributed": [Case(lambda: cls("TimeDistributed")(cls("Dense")(4, activation="relu"))),
                        Case(lambda: cls("TimeDistributed")(cls("Conv2D")(2, 3)),
                             x=lambda: torch.randn(2, 2, 3, 5, 5)),
                        Case(lambda: cls("TimeDistributed")(UserScale(3, factor=(2.0, 0.5))),
                             mask=True)],
}


def _public_layer_names() -> list[str]:
    return sorted(n for n in L.__all__ if isinstance(getattr(L, n), type)
                  and issubclass(getattr(L, n), Layer) and n not in BASES)


def _params():
    return [pytest.param(name, case, id=f"{name}-{i}")
            for name, cases in sorted(CASES.items()) for i, case in enumerate(cases)]


# -- user classes (registered by the fixture below) -----------------------------------
class UserScale(Layer):
    """A user layer: multiplies the features by a learned scale, starting at ``factor[0]``."""

    def __init__(self, n_out: int, n_in: int | None = None, *, factor=(1.0, 1.0),
                 dtype=torch.float32):
        super().__init__(n_in)
        self._n_out, self.factor, self.dtype = n_out, factor, dtype
        self._maybe_build()

    @property
    def n_out(self) -> int:
        return self._n_out

    def _build(self, n_in: int) -> None:
        self.scale = nn.Parameter(torch.full((n_in,), self.factor[0], dtype=self.dtype))

    def forward(self, x, mask=None):
        self._build_like(x)
        return x * self.scale.view(1, -1, *([1] * (x.dim() - 2)))


class UserCell(nn.Module):
    """A user-written cell (a plain torch Module) following the cell protocol."""

    def __init__(self, units: int, n_in: int = 3):
        super().__init__()
        self.units, self.n_in = units, n_in
        self.state_size = units
        self.lin = nn.Linear(n_in + units, units)

    def forward(self, x_t, states):
        h = torch.tanh(self.lin(torch.cat([x_t, states[0]], dim=1)))
        return h, (h,)


@pytest.fixture(autouse=True)
def _registry():
    """Register the user classes for each test and restore the registry afterwards."""
    saved = dict(_config._USER_CLASSES)
    L.register_layer(UserScale)
    L.register_layer(UserCell)
    yield
    _config._USER_CLASSES.clear()
    _config._USER_CLASSES.update(saved)


# -- the round trip ------------------------------------------------------------------
def test_every_public_layer_has_a_case():
    missing = [name for name in _public_layer_names() if name not in CASES]
    assert not missing, (f"public layers without a config round-trip case: {missing}; add them "
                         f"to CASES in {__file__}")


def _json(config: dict) -> dict:
    return json.loads(json.dumps(config, allow_nan=False))


def _run(layer, case: Case, x: torch.Tensor):
    layer.eval()
    if case.call is not None:
        return case.call(layer, x)
    return layer(x, mask_of(x.shape[0], x.shape[2])) if case.mask else layer(x)


def _flat(out) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in _flat(item)]


def _same_outputs(a: nn.Module, b: nn.Module, case: Case, x: torch.Tensor) -> None:
    for m in (a, b):
        if getattr(m, "stateful", False):
            m.reset_state()                    # both start from zeros
    with torch.no_grad():
        got, want = _flat(_run(b, case, x)), _flat(_run(a, case, x))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


@pytest.mark.parametrize("name, case", _params())
def test_round_trip(name, case):
    torch.manual_seed(0)
    layer = case.make()
    assert type(layer) is cls(name)
    config = layer_to_config(layer)
    assert config["class"] == name
    rebuilt = layer_from_config(_json(config))
    assert type(rebuilt) is type(layer)
    assert layer_to_config(rebuilt) == config

    # Same n_in, same state_dict: same outputs.
    x = case.x()
    for m in (layer, rebuilt):
        if isinstance(m, Layer) and not m.built:
            m.build(int(x.shape[1]))
    rebuilt.load_state_dict(layer.state_dict())
    _same_outputs(layer, rebuilt, case, x)

    # A built layer's config records n_in: the rebuilt layer takes the state_dict at once.
    built_config = layer_to_config(layer)
    again = layer_from_config(_json(built_config))
    again.load_state_dict(layer.state_dict())
    assert layer_to_config(again) == built_config
    _same_outputs(layer, again, case, x)


# -- recording the constructor arguments ----------------------------------------------
def test_the_most_derived_constructor_is_recorded():
    out = L.RnnOutput(3)                       # RnnOutput -> Output -> Dense -> Layer
    assert out._init_args == {"n_out": 3, "n_in": None, "activation": "softmax", "loss": "mcxent",
                              "use_bias": True}
    scale = UserScale(2, factor=[3.0, 1.0])
    assert scale._init_args == {"n_out": 2, "n_in": None, "factor": [3.0, 1.0],
                                "dtype": torch.float32}


def test_recorded_arguments_are_not_in_the_state_dict():
    dense = L.Dense(2, 3)
    assert set(dense.state_dict()) == {"weight", "bias"}
    assert "_init_args" not in dict(dense.named_buffers()) and not list(dense.named_children())


def test_a_mutated_argument_list_does_not_change_the_record():
    factor = [2.0, 1.0]
    layer = UserScale(2, factor=factor)
    factor[0] = 5.0
    assert layer_to_config(layer)["config"]["factor"] == [2.0, 1.0]


def test_user_subclass_calling_super_records_its_own_arguments():
    @L.register_layer
    class Wide(L.Dense):
        def __init__(self, width: int, *, activation="relu"):
            super().__init__(2 * width, activation=activation)

    layer = Wide(3)
    assert layer.n_out == 6
    config = layer_to_config(layer)
    assert config == {"class": "Wide", "config": {"width": 3, "activation": "relu"}}
    assert layer_from_config(_json(config)).n_out == 6


# -- encoding ------------------------------------------------------------------------
def test_value_encoding():
    layer = UserScale(2, 3, factor=(2.0, math.inf), dtype=torch.float64)
    config = layer_to_config(layer)
    assert config == {"class": "UserScale",
                      "config": {"n_out": 2, "n_in": 3,
                                 "factor": {"__tuple__": [2.0, {"__float__": "inf"}]},
                                 "dtype": {"__dtype__": "float64"}}}
    rebuilt = layer_from_config(_json(config))
    assert rebuilt.factor == (2.0, math.inf) and rebuilt.scale.dtype == torch.float64


def test_numpy_scalars_named_activations_and_losses_become_plain_values():
    layer = L.Output(np.int64(3), activation=Activation("sigmoid"), loss=MeanSquaredError())
    config = layer_to_config(layer)["config"]
    assert config["n_out"] == 3 and type(config["n_out"]) is int
    assert config["activation"] == "sigmoid" and config["loss"] == "mse"


def test_nested_config_shape():
    config = layer_to_config(L.TimeDistributed(L.Dense(4, 3, activation="relu")))
    assert config == {"class": "TimeDistributed", "config": {"layer": {"__layer__": {
        "class": "Dense", "config": {"n_out": 4, "n_in": 3, "activation": "relu", "use_bias": True}}}}}


# -- errors --------------------------------------------------------------------------
def test_callable_activation_is_a_clear_error():
    with pytest.raises(ConfigError) as err:
        layer_to_config(L.Dense(3, activation=torch.tanh))
    msg = str(err.value)
    assert "Dense" in msg and "'activation'" in msg and "builtin_function_or_method" in msg
    assert "named activation" in msg and "register_layer" in msg
    with pytest.raises(ConfigError, match=r"Dense.*'activation'.*function.*named activation"):
        layer_to_config(L.TimeDistributed(L.Dense(3, activation=lambda x: x * 2)))


def test_tensor_and_object_arguments_are_clear_errors():
    with pytest.raises(ConfigError, match=r"UserScale: argument 'factor\[0\]' is a torch.Tensor"):
        layer_to_config(UserScale(2, factor=(torch.tensor(1.0), 1.0)))
    with pytest.raises(ConfigError, match=r"argument 'factor\[1\]' is a builtins.object.*plain value"):
        layer_to_config(UserScale(2, factor=[1.0, object()]))
    with pytest.raises(ConfigError, match="must have str keys"):
        layer_to_config(UserScale(2, factor={1: 2.0}))
    with pytest.raises(ConfigError, match="reserved"):
        layer_to_config(UserScale(2, factor={"__tuple__": 2.0}))


def test_plain_torch_module_is_a_clear_error():
    with pytest.raises(ConfigError) as err:
        layer_to_config(L.TimeDistributed(nn.Linear(3, 4)))
    msg = str(err.value)
    assert "TimeDistributed.layer" in msg and "torch.nn.modules.linear.Linear" in msg
    assert "not a seqkit layer" in msg and "register_layer" in msg and "Dense" in msg


def test_unregistered_layer_subclass_is_a_clear_error():
    class Mine(L.Dense):
        pass

    with pytest.raises(ConfigError, match=r"layer class .*Mine is not registered.*register_layer"):
        layer_to_config(Mine(2))


def test_module_created_before_registering_is_a_clear_error():
    class Late(nn.Module):
        def __init__(self, k: int = 1):
            super().__init__()

    early = Late()
    L.register_layer(Late)
    assert layer_to_config(Late(2)) == {"class": "Late", "config": {"k": 2}}
    with pytest.raises(ConfigError, match="no recorded constructor arguments"):
        layer_to_config(early)


def test_unknown_class_is_a_clear_error_and_nothing_is_imported():
    for name in ("NoSuchLayer", "os.system", "builtins.eval", "Layer"):
        with pytest.raises(ConfigError, match=f"unknown layer class {name!r}.*register_layer"):
            layer_from_config({"class": name, "config": {}})


@pytest.mark.parametrize("config, match", [
    ([], "must be"),
    ({"class": "Dense"}, "must be"),
    ({"class": 3, "config": {}}, "'class' must be a str"),
    ({"class": "Dense", "config": {"n_out": 2, "colour": "red"}}, "takes no argument 'colour'"),
    ({"class": "Dense", "config": {}}, "does not match the constructor of Dense.*n_out"),
    ({"class": "Dense", "config": {"n_out": 0}}, "n_out must be a positive int"),
    ({"class": "UserScale", "config": {"n_out": 2, "dtype": {"__dtype__": "os.system"}}},
     "unknown torch dtype"),
    ({"class": "TimeDistributed", "config": {"layer": {"__layer__": {"class": "Nope", "config": {}}}}},
     r"TimeDistributed\)\.layer: unknown layer class 'Nope'"),
])
def test_bad_configs_are_clear_errors(config, match):
    with pytest.raises(ConfigError, match=match):
        layer_from_config(config)


# -- registering ---------------------------------------------------------------------
def test_register_layer_names_and_clashes():
    assert "UserScale" in _config.registered_layers()

    @L.register_layer(name="custom.Scale2")
    class Scale2(UserScale):
        pass

    assert layer_to_config(Scale2(2))["class"] == "custom.Scale2"
    assert type(layer_from_config(layer_to_config(Scale2(2)))) is Scale2
    with pytest.raises(ConfigError, match="name of a seqkit layer"):
        L.register_layer(Scale2, name="Dense")

    class UserCell(nn.Module):                       # another class under a taken name
        pass

    with pytest.raises(ConfigError, match="already registered"):
        L.register_layer(UserCell)
    with pytest.raises(ConfigError, match="torch.nn.Module subclass"):
        L.register_layer(len)
    with pytest.raises(ConfigError, match="identifier"):
        L.register_layer(Scale2, name="not a name")
    assert L.register_layer(L.Dense) is L.Dense       # a seqkit layer: nothing to do


def test_registering_a_redefined_class_replaces_it():
    def define():
        class Again(nn.Module):
            def __init__(self, k: int = 1):
                super().__init__()
        return Again

    first, second = define(), define()
    L.register_layer(first)
    L.register_layer(second)
    assert _config.registered_layers()["Again"] is second


def test_registered_plain_module_inside_a_wrapper_round_trips():
    config = layer_to_config(L.TimeDistributed(UserCellLike(3)))
    assert config["config"]["layer"] == {"__layer__": {"class": "UserCellLike",
                                                       "config": {"units": 3}}}
    assert type(layer_from_config(_json(config)).layer) is UserCellLike


@L.register_layer
class UserCellLike(nn.Module):
    """A plain module registered at import: its instances record their arguments."""

    def __init__(self, units: int):
        super().__init__()
        self.lin = nn.Linear(units, units)

    def forward(self, x):
        return self.lin(x)
