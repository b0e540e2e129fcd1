"""Network tests run their tiny models on one intra-op thread (restored after each test).

The models here are a few dozen units: on two shared cores, more OpenMP threads
only add synchronisation and spin-waits (measured: about 8x slower under load).
"""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
