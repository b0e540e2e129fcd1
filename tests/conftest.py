"""Test-wide settings: CUDA marker, hypothesis profiles, the Keras backend and its device."""

import os

# Keras parity tests run Keras 3 on its torch backend; this must be set before keras is imported.
os.environ.setdefault("KERAS_BACKEND", "torch")
# ... on the CPU, also on a GPU host: Keras's torch backend picks "cuda" when torch sees a GPU
# (keras/src/backend/torch/core.py reads KERAS_TORCH_DEVICE once, at import, before that choice).
# CUDA_VISIBLE_DEVICES cannot be used: the CUDA-marked tests need the GPU in the same process.
os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
