"""readers: CSV and Parquet sequences to padded NCL batches with masks.

numpy, pandas and pyarrow only: importing readers never imports torch.
"""

from ._errors import SequenceDataError

__all__ = sorted([
    "SequenceDataError",
])
