"""Fixtures for the evaluation tests."""

import pytest
from evaluation_data import MaskedBatch, make_batch


@pytest.fixture
def batch() -> MaskedBatch:
    return make_batch()
