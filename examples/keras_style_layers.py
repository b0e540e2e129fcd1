"""Keras-style recurrent layers in seqkit: RNN with cells, StackedRNNCells, return_state,
go_backwards, and Keras 3 weights brought over with set_keras_weights.

seqkit's layers take NCL input ``[N, F, T]`` (Keras: ``[N, T, F]``) and a
``[N, T]`` mask, and return sequences by default (Keras: last step only).
Apart from that, the Keras recurrent API carries over:

1. ``RNN(cell)`` runs any cell over time. ``RNN(LSTMCell(8))`` is the plain
   step loop; ``LSTM(8)`` is the same layer on torch's fused kernel. With the
   same weights (copied with ``get_keras_weights`` / ``set_keras_weights``)
   they agree.
2. A user-written cell (``state_size`` and ``forward(x_t, states)``) works
   in ``RNN`` too, masks included: at a masked step the state is carried over
   and the output is zero.
3. ``RNN([LSTMCell(6), GRUCell(4)], return_state=True)`` stacks cells
   (``StackedRNNCells``) and returns the states grouped per cell, as Keras:
   ``(y, (h0, c0), h1)``.
4. ``return_state=True`` gives ``(y, h, c)``; ``go_backwards=True`` reads the
   sequence from its end.
5. A Keras 3 ``LSTM``, ``GRU`` and stacked ``RNN`` are built and run (torch
   backend); their ``get_weights()`` go into seqkit's layers with
   ``set_keras_weights`` and the outputs and final states match. Keras
   repeats the previous output at masked steps where seqkit outputs zero
   (seqkit's masking semantic), so outputs are compared at the real steps.
   Without keras installed (it is in the ``test`` extra), or with
   ``--no-keras``, Keras-layout arrays are generated here instead and
   checked against Keras's LSTM equations written out in numpy.

Run:
    python examples/keras_style_layers.py              # about 10 s, most of it importing keras
    python examples/keras_style_layers.py --no-keras   # the numpy path, without keras
    python examples/keras_style_layers.py --smoke      # the same on smaller arrays, for the tests
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")   # Keras 3 on torch; must be set before keras is imported

import numpy as np
import torch
from torch import nn

from seqkit.layers import GRU, LSTM, RNN, GRUCell, LSTMCell, StackedRNNCells

TOL = 1e-5


def diff(a, b) -> float:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    return float(np.abs(a - b).max())


def show(name: str, value: float) -> float:
    print(f"  {name}: max abs diff {value:.2e} {'(same)' if value < TOL else '(DIFFERENT)'}")
    return value


class LeakyCell(nn.Module):
    """A user-written cell: ``h_t = (1 - a) * h_{t-1} + a * tanh(W x_t + U h_{t-1})``, ``a`` learnt.

    What ``RNN`` needs: ``state_size`` and ``forward(x_t, states) -> (out, new_states)``.

    Shape:
        x_t ``[N, F]``; states ``(h,)`` with h ``[N, H]``; output ``[N, H]``.
    """

    def __init__(self, n_in: int, units: int):
        super().__init__()
        self.state_size = units
        self.w = nn.Linear(n_in, units)
        self.u = nn.Linear(units, units, bias=False)
        self.leak = nn.Parameter(torch.zeros(units))                   # a = sigmoid(leak), 0.5 at first

    def forward(self, x_t, states):
        (h,) = states
        a = torch.sigmoid(self.leak)
        h = (1 - a) * h + a * torch.tanh(self.w(x_t) + self.u(h))
        return h, (h,)


def cells_and_flags(x: torch.Tensor, mask: torch.Tensor) -> float:
    worst = 0.0
    print("1. RNN(LSTMCell(8)) (step loop) and LSTM(8) (fused kernel), same weights")
    loop, fused = RNN(LSTMCell(8)), LSTM(8)
    loop(x)                                                            # builds n_in from x
    fused.set_keras_weights(loop.cell.get_keras_weights())
    worst = max(worst, show("outputs with a mask", diff(loop(x, mask), fused(x, mask))))

    print("2. a user-written cell in RNN, with a mask")
    leaky = RNN(LeakyCell(x.shape[1], 5), return_state=True)
    y, h = leaky(x, mask)
    last = int(mask[0].sum()) - 1                                      # example 0's last real step
    print(f"  output {tuple(y.shape)}; example 0 has {last + 1} real steps, its padded outputs are "
          f"{'all zero' if bool((y[0, :, last + 1:] == 0).all()) else 'NOT zero'}")
    worst = max(worst, show("final state h vs output at the last real step", diff(h[0], y[0, :, last])))

    print("3. StackedRNNCells: RNN(StackedRNNCells([LSTMCell(6), GRUCell(4)]), return_state=True)")
    stacked = RNN(StackedRNNCells([LSTMCell(6), GRUCell(4)]), return_state=True)   # or RNN([cell, cell])
    y, (h0, c0), h1 = stacked(x, mask)
    print(f"  y {tuple(y.shape)}, cell 0 states h {tuple(h0.shape)} c {tuple(c0.shape)}, "
          f"cell 1 state h {tuple(h1.shape)}")

    print("4. return_state and go_backwards")
    lstm = LSTM(8, return_state=True, return_sequences=False)
    y, h, c = lstm(x)
    worst = max(worst, show(f"return_sequences=False: y {tuple(y.shape)} vs state h", diff(y, h)))
    back = LSTM(8, go_backwards=True)
    ahead = LSTM(8)
    back(x)
    ahead.set_keras_weights(back.get_keras_weights())
    worst = max(worst, show("go_backwards=True vs the same LSTM on the reversed input",
                            diff(back(x), ahead(x.flip(2)))))
    return worst


# ---- Keras weights ------------------------------------------------------------------------------

def keras_lstm_numpy(x_ntf: np.ndarray, kernel, recurrent_kernel, bias):
    """Keras's LSTM equations (gates i, f, c, o on the last axis), no mask: outputs ``[N, T, H]``, h, c."""
    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))
    n, t, _ = x_ntf.shape
    units = recurrent_kernel.shape[0]
    h = np.zeros((n, units), np.float64)
    c = np.zeros((n, units), np.float64)
    out = np.zeros((n, t, units))
    for step in range(t):
        z = x_ntf[:, step] @ kernel + h @ recurrent_kernel + bias                 # [N, 4H]
        i, f, g, o = np.split(z, 4, axis=1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        out[:, step] = h
    return out, h, c


def without_keras(x: torch.Tensor, rng: np.random.Generator) -> float:
    """Keras-layout arrays made here, loaded with set_keras_weights, checked against numpy."""
    f, units = x.shape[1], 8
    arrays = [rng.normal(0, 0.3, (f, 4 * units)).astype(np.float32),      # kernel [F, 4H]
              rng.normal(0, 0.3, (units, 4 * units)).astype(np.float32),  # recurrent_kernel [H, 4H]
              rng.normal(0, 0.1, (4 * units,)).astype(np.float32)]        # bias [4H]
    lstm = LSTM(units, return_state=True)
    lstm.set_keras_weights(arrays)
    y, h, c = lstm(x)
    ref, rh, rc = keras_lstm_numpy(x.numpy().transpose(0, 2, 1).astype(np.float64), *arrays)
    worst = show("LSTM outputs vs Keras's equations", diff(y.permute(0, 2, 1), ref))
    worst = max(worst, show("final h, c", max(diff(h, rh), diff(c, rc))))
    back = lstm.get_keras_weights()
    worst = max(worst, show("get_keras_weights() round trip", max(diff(a, b) for a, b in zip(arrays, back))))
    return worst


def with_keras(keras, x: torch.Tensor, mask: torch.Tensor) -> float:
    x_ntf = x.numpy().transpose(0, 2, 1).copy()                        # Keras wants [N, T, F]
    m = mask.numpy().astype(bool)                                      # [N, T]
    real = torch.from_numpy(m)

    def run_keras(layer):
        out = layer(x_ntf, mask=m)
        flat = []
        for item in out:                                               # nested state lists flattened
            flat.extend(item if isinstance(item, (list, tuple)) else [item])
        return [torch.from_numpy(np.asarray(keras.ops.convert_to_numpy(o))) for o in flat]

    def at_real(y_nht, y_nth):
        """Both outputs at the real steps only, as ``[real steps, H]``."""
        return y_nht.permute(0, 2, 1)[real], y_nth[real]

    worst = 0.0
    print("  keras.layers.LSTM(8, return_sequences=True, return_state=True)")
    k_lstm = keras.layers.LSTM(8, return_sequences=True, return_state=True)
    ky, kh, kc = run_keras(k_lstm)
    lstm = LSTM(8, return_state=True)
    lstm.set_keras_weights(k_lstm.get_weights())
    y, h, c = lstm(x, mask)
    worst = max(worst, show("outputs at real steps", diff(*at_real(y, ky))))
    worst = max(worst, show("final h and c", max(diff(h, kh), diff(c, kc))))
    padded = ~m
    print(f"  at the {int(padded.sum())} padded steps Keras repeats the last output "
          f"(|y| up to {float(ky[torch.from_numpy(padded)].abs().max()):.2f}); seqkit outputs "
          f"{float(y.permute(0, 2, 1)[torch.from_numpy(padded)].abs().max()):.1f}")

    print("  keras.layers.GRU(6, return_sequences=True, return_state=True)  (reset_after=True)")
    k_gru = keras.layers.GRU(6, return_sequences=True, return_state=True)
    ky, kh = run_keras(k_gru)
    gru = GRU(6, return_state=True)
    gru.set_keras_weights(k_gru.get_weights())
    y, h = gru(x, mask)
    worst = max(worst, show("outputs at real steps", diff(*at_real(y, ky))))
    worst = max(worst, show("final h", diff(h, kh)))

    print("  keras.layers.RNN([LSTMCell(6), GRUCell(4)], return_sequences=True, return_state=True)")
    k_rnn = keras.layers.RNN([keras.layers.LSTMCell(6), keras.layers.GRUCell(4)],
                             return_sequences=True, return_state=True)
    ky, kh0, kc0, kh1 = run_keras(k_rnn)
    weights = k_rnn.get_weights()                                      # 3 arrays per cell, in order
    stacked = RNN([LSTMCell(6), GRUCell(4)], return_state=True)
    stacked(x)                                                         # builds every cell's n_in
    for k, cell in enumerate(stacked.cell.cells):
        cell.set_keras_weights(weights[3 * k:3 * k + 3])
    y, (h0, c0), h1 = stacked(x, mask)
    worst = max(worst, show("outputs at real steps", diff(*at_real(y, ky))))
    worst = max(worst, show("final states of both cells",
                            max(diff(h0, kh0), diff(c0, kc0), diff(h1, kh1))))
    return worst


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-keras", action="store_true", help="use generated Keras-layout arrays")
    parser.add_argument("--smoke", action="store_true", help="smaller arrays, for the tests")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n, f, t = (3, 4, 9) if args.smoke else (16, 5, 40)
    x = torch.from_numpy(rng.normal(size=(n, f, t)).astype(np.float32))   # [N, F, T]
    lengths = rng.integers(t // 2, t + 1, size=n)
    lengths[0] = t // 2                                                  # example 0 is padded
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.float32)   # [N, T], padding at the end
    mask = torch.from_numpy(mask)
    print(f"input x {tuple(x.shape)} [N, F, T], mask {tuple(mask.shape)}, lengths {lengths.tolist()}")

    with torch.no_grad():
        worst = cells_and_flags(x, mask)
        keras = None
        if not args.no_keras:
            try:
                import keras
            except ImportError:
                print("\n5. keras is not installed (pip install 'seqkit[test]' brings it); "
                      "using generated Keras-layout arrays")
        if keras is None:
            if args.no_keras:
                print("\n5. --no-keras: generated Keras-layout arrays")
            worst = max(worst, without_keras(x, rng))
        else:
            print(f"\n5. Keras {keras.__version__} (backend {keras.backend.backend()}) -> "
                  f"set_keras_weights")
            worst = max(worst, with_keras(keras, x, mask))
    print(f"\nlargest difference overall: {worst:.2e} ({time.perf_counter() - start:.1f} s)")
    if worst > TOL:
        raise SystemExit("a comparison differed")
    return worst


if __name__ == "__main__":
    main()
    sys.exit(0)
