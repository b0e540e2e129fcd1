"""The network on a GPU: fit, output, rnn_time_step, mixed precision, no sync in the step."""

import numpy as np
import pytest
import torch

import readers
import seqkit
from seqkit import InputType, Sequential
from seqkit.network._data import to_device
from seqkit.network import FitState
from seqkit.network._fit import FitRun
from seqkit.layers import Dense, LastTimeStep, Output, RnnOutput, get_float32_precision

from netdata import GRU, LSTM, SimpleRNN, params_of, sequence_data

pytestmark = pytest.mark.cuda


def atol(ieee: float) -> float:
    """A CPU-versus-GPU tolerance by seqkit's float32 policy: ``ieee`` in the default "ieee" mode,
    at least 1e-2 with ``SEQKIT_FLOAT32=tf32`` (cuDNN RNNs with a 10-bit mantissa, two epochs)."""
    return ieee if get_float32_precision() == "ieee" else max(ieee, 1e-2)


def stack(**kwargs):
    return Sequential([LSTM(8), Dense(6, activation="tanh"), GRU(5), RnnOutput(3)],
                      input_type=InputType.recurrent(4), seed=3, **kwargs)


def test_fit_output_and_streaming_on_cuda_match_cpu():
    x, y = sequence_data(n=6, f=4, t=12)
    mask = np.ones((6, 12), np.float32)
    mask[2, 9:] = 0
    batch = readers.Batch(x, y, mask, mask, list(range(6)))
    cpu, gpu = stack(), stack(device="cuda")
    assert next(gpu.parameters()).is_cuda
    cpu.fit([batch], epochs=2, progress=False)
    gpu.fit([batch], epochs=2, progress=False)
    pc, pg = params_of(cpu), params_of(gpu)
    assert all(torch.allclose(pc[k], pg[k].cpu(), atol=atol(1e-4)) for k in pc)
    out = gpu.output(torch.from_numpy(x).cuda())
    assert out.is_cuda
    np.testing.assert_allclose(gpu.output(x), cpu.output(x), atol=atol(1e-4))
    parts = [gpu.rnn_time_step(x[:, :, s:s + 4]) for s in (0, 4, 8)]
    np.testing.assert_allclose(np.concatenate(parts, 2), gpu.output(x), atol=atol(1e-5))


def test_to_cuda_after_construction_and_tbptt():
    x, y = sequence_data(n=4, f=4, t=10)
    net = stack(backprop="tbptt", tbptt_length=4, tbptt_back_length=2).to("cuda")
    net.fit((x, y), progress=False)
    assert net.device.type == "cuda" and net.updates == 3


def test_bf16_mixed_precision_trains():
    x, y = sequence_data(n=8, f=4, t=10)
    net = stack(precision="bf16-mixed", device="cuda", learning_rate=0.01)
    before = net.score((x, y))
    net.fit((x, y), epochs=5, progress=False)
    after = net.score((x, y))
    assert np.isfinite(after) and after < before


def test_training_step_does_not_sync_with_the_host():
    x, y = sequence_data(n=4, f=4, t=8, per_step=False)
    mask = np.ones((4, 8), np.float32)
    mask[1, 5:] = 0
    net = Sequential([LSTM(8), LastTimeStep(SimpleRNN(6)), Dense(5), Output(3)],
                     input_type=InputType.recurrent(4), seed=0, device="cuda", l2=1e-4, grad_clip=1.0)
    net.optimization.ensure(net.layers)
    run = FitRun(net, net, [], FitState(net, 1, None, None), check_every=50)
    batches = [to_device(readers.Batch(x, y, mask, None, [0, 1, 2, 3]), net.device, net.dtype)
               for _ in range(3)]
    run.minibatch(batches[0])                                     # warm-up (lazy init may sync)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for b in batches[1:]:
            run.minibatch(b)
    finally:
        torch.cuda.set_sync_debug_mode("default")


def test_save_on_cuda_load_on_cpu(tmp_path):
    x, _ = sequence_data(n=2, f=4, t=5)
    net = stack(device="cuda")
    net.save(tmp_path / "n.seqkit")
    loaded = seqkit.load(tmp_path / "n.seqkit")
    assert loaded.device.type == "cpu"
    np.testing.assert_allclose(loaded.output(x), net.output(x), atol=atol(1e-5))


def test_bf16_mixed_every_recurrent_kind_on_cuda():
    """Under CUDA autocast the recurrent layers run float32 (autocast off inside them), not the
    float16 torch's autocast rule for the cuDNN RNN ops would pick: training stays finite."""
    from seqkit.layers import Bidirectional, GravesLSTM
    x, y = sequence_data(n=8, f=4, t=10)
    net = Sequential([Bidirectional(LSTM(8)), Dense(6), GRU(5, reset_after=False), GravesLSTM(4),
                      SimpleRNN(4), RnnOutput(3)], input_type=InputType.recurrent(4), seed=3,
                     precision="bf16-mixed", device="cuda", learning_rate=0.01)
    before = net.score((x, y))
    net.fit((x, y), epochs=5, progress=False)
    after = net.score((x, y))
    assert np.isfinite(after) and after < before


def test_cuda_model_file_weights_after_flattening(tmp_path):
    """cuDNN-flattened weights (views of one buffer) save and load like any others."""
    x, _ = sequence_data(n=2, f=4, t=5)
    net = stack(device="cuda")
    lstm = net.layers[0]
    assert lstm.flatten_parameters()
    net.save(tmp_path / "n.seqkit")
    loaded = seqkit.load(tmp_path / "n.seqkit", device="cuda")
    assert list(loaded.state_dict()) == list(net.state_dict())
    np.testing.assert_allclose(loaded.output(x), net.output(x), atol=1e-6)
