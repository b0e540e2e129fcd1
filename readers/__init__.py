"""readers: CSV and Parquet sequences to padded NCL batches with masks.

numpy, pandas and pyarrow only: importing readers never imports torch.

    files --(CSVSequenceReader / ParquetSequenceReader)--> records [T, C]
          --(SequenceBatches)--> Batch: features [N, F, T], labels, masks [N, T], keys
"""

from ._batch import Align, Batch
from ._batches import SequenceBatches
from ._csv import CSVSequenceReader
from ._errors import SequenceDataError
from ._inspect import Summary, inspect
from ._parquet import ParquetSequenceReader
from ._record import Record
from ._sources import NumberedFiles, resolve_paths
from ._standardize import StandardizedBatches, Standardizer
from ._write import write_parquet

__all__ = sorted([
    "Align",
    "Batch",
    "CSVSequenceReader",
    "NumberedFiles",
    "ParquetSequenceReader",
    "Record",
    "SequenceBatches",
    "SequenceDataError",
    "StandardizedBatches",
    "Standardizer",
    "Summary",
    "inspect",
    "resolve_paths",
    "write_parquet",
])
