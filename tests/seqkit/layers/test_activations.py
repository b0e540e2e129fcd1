"""Activation registry: every name against an independent reference, aliases, errors."""

import math

import pytest
import torch

from seqkit.layers import ACTIVATIONS, get_activation
from seqkit.layers._activations import Activation, activation_name

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def _ref(name, x):
    """Element-wise definitions written out from the formulas."""
    sig = 1.0 / (1.0 + torch.exp(-x))
    table = {
        "identity": x,
        "relu": torch.where(x > 0, x, torch.zeros_like(x)),
        "tanh": (torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x)),
        "sigmoid": sig,
        "hard_sigmoid": torch.clamp((x + 3.0) / 6.0, 0.0, 1.0),
        "hard_sigmoid_dl4j": torch.clamp(0.2 * x + 0.5, 0.0, 1.0),
        "softsign": x / (1.0 + x.abs()),
        "elu": torch.where(x > 0, x, torch.exp(x) - 1.0),
        "selu": 1.0507009873554805 * torch.where(x > 0, x, 1.6732632423543772 * (torch.exp(x) - 1.0)),
        "gelu": 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0))),
        "softplus": torch.log1p(torch.exp(x)),
        "leaky_relu": torch.where(x > 0, x, 0.01 * x),
        "swish": x * sig,
    }
    return table[name]


ELEMENTWISE = ["identity", "relu", "tanh", "sigmoid", "hard_sigmoid", "hard_sigmoid_dl4j", "softsign",
               "elu", "selu", "gelu", "softplus", "leaky_relu", "swish"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_matches_formula(name, device):
    x = torch.linspace(-5, 5, 41, dtype=torch.float64, device=device).reshape(1, 41)
    torch.testing.assert_close(get_activation(name)(x), _ref(name, x), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softmax_normalises_over_dim_1(dtype):
    x = torch.randn(2, 4, 3, dtype=dtype)                   # [N, C, T]
    p = get_activation("softmax")(x)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(2, 3, dtype=dtype))
    e = torch.exp(x - x.max(dim=1, keepdim=True).values)
    torch.testing.assert_close(p, e / e.sum(dim=1, keepdim=True))
    x2 = torch.randn(5, 4, dtype=dtype)                     # [N, C]
    torch.testing.assert_close(get_activation("softmax")(x2).sum(dim=1), torch.ones(5, dtype=dtype))


def test_hard_sigmoid_matches_keras():
    keras = pytest.importorskip("keras")
    x = torch.linspace(-4, 4, 17)
    ours = get_activation("hard_sigmoid")(x)
    theirs = keras.ops.convert_to_numpy(
        keras.activations.hard_sigmoid(keras.ops.convert_to_tensor(x.numpy())))
    torch.testing.assert_close(ours, torch.as_tensor(theirs), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("alias,canonical", [("linear", "identity"), ("LINEAR", "identity"),
                                             ("hardsigmoid", "hard_sigmoid"), ("silu", "swish"),
                                             ("hard_sigmoid_keras2", "hard_sigmoid_dl4j"),
                                             ("Hard_Sigmoid_DL4J", "hard_sigmoid_dl4j"),
                                             ("LeakyReLU", "leaky_relu"), (" Tanh ", "tanh")])
def test_aliases_and_case(alias, canonical):
    fn = get_activation(alias)
    assert activation_name(fn) == canonical
    assert fn == Activation(canonical)
    assert alias.strip().lower() in ACTIVATIONS


def test_none_is_identity_and_callables_pass_through():
    x = torch.randn(3, 2)
    assert torch.equal(get_activation(None)(x), x)
    relu = torch.nn.ReLU()
    assert get_activation(relu) is relu
    fn = lambda t: t * 2  # noqa: E731
    assert get_activation(fn) is fn
    assert activation_name(fn) is None
    act = get_activation("relu")
    assert get_activation(act) is act
    assert repr(act) == "Activation('relu')"
    assert len({Activation("relu"), Activation("RELU")}) == 1


def test_the_two_hard_sigmoids_at_known_points():
    """DL4J's (and Keras 2's) clip(0.2 x + 0.5, 0, 1) versus Keras 3's relu6(x + 3) / 6."""
    x = torch.tensor([-3.0, -2.5, -1.0, 0.0, 1.0, 2.5, 3.0], dtype=torch.float64)
    dl4j = get_activation("hard_sigmoid_dl4j")(x)
    torch.testing.assert_close(dl4j, torch.tensor([0.0, 0.0, 0.3, 0.5, 0.7, 1.0, 1.0], dtype=torch.float64))
    keras3 = get_activation("hard_sigmoid")(x)
    torch.testing.assert_close(keras3, torch.tensor([0.0, 1 / 12, 1 / 3, 0.5, 2 / 3, 11 / 12, 1.0],
                                                    dtype=torch.float64))
    xs = torch.tensor([-4.0, 0.3, 4.0], dtype=torch.float64, requires_grad=True)
    get_activation("hard_sigmoid_dl4j")(xs).sum().backward()
    torch.testing.assert_close(xs.grad, torch.tensor([0.0, 0.2, 0.0], dtype=torch.float64))


def test_dl4j_hard_sigmoid_gate_survives_save_and_load(tmp_path):
    import seqkit
    from seqkit.layers import GravesLSTM, RnnOutput

    net = seqkit.Sequential([GravesLSTM(4, gate_activation="hard_sigmoid_dl4j"), RnnOutput(2)],
                            input_type=seqkit.InputType.recurrent(3), seed=0)
    net.save(tmp_path / "m.seqkit")
    back = seqkit.load(tmp_path / "m.seqkit")
    x = torch.randn(2, 3, 5)
    torch.testing.assert_close(back.output(x), net.output(x))
    assert back.layers[0]._init_args["gate_activation"] == "hard_sigmoid_dl4j"


def test_unknown_name_lists_allowed_names():
    with pytest.raises(ValueError) as err:
        get_activation("relu7")
    msg = str(err.value)
    assert "relu7" in msg
    for name in ("softmax", "tanh", "hard_sigmoid", "swish"):
        assert name in msg


def test_non_callable_is_an_error():
    with pytest.raises(ValueError, match="name or a callable"):
        get_activation(3)
    with pytest.raises(ValueError, match="name or a callable"):
        Activation(3)
