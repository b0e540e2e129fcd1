"""readers: CSV and Parquet sequences to padded NCL batches with masks.

numpy, pandas and pyarrow only: importing readers never imports torch.

    files --(CSVSequenceReader / ParquetSequenceReader / your SequenceReader)--> records [T, C]
          --(SequenceBatches)--> Batch: features [N, F, T], labels, masks [N, T], keys

Every reader is a `SequenceReader`: records one by one (`records()`, the one
method a reader of your own needs) or many at a time as `Chunk`s (`chunks()`,
what `SequenceBatches`, `write_parquet` and `inspect` read). A features
reader and a labels reader are paired by key (`SequenceReader.pair_keys`),
never by position, when both have keys.
"""

from ._align import Align
from ._batch import Batch
from ._chunk import Chunk
from ._csv_reader import CSVSequenceReader
from ._errors import SequenceDataError
from ._header import detect_header
from ._inspect import Summary, inspect
from ._parquet_reader import ParquetSequenceReader
from ._record import Record
from ._sequence_batches import SequenceBatches
from ._sequence_reader import SequenceReader
from ._sources import NumberedFiles, resolve_paths
from ._standardize import StandardizedBatches, Standardizer
from ._write import write_parquet

__all__ = [
    "Align",
    "Batch",
    "CSVSequenceReader",
    "Chunk",
    "NumberedFiles",
    "ParquetSequenceReader",
    "Record",
    "SequenceBatches",
    "SequenceDataError",
    "SequenceReader",
    "StandardizedBatches",
    "Standardizer",
    "Summary",
    "detect_header",
    "inspect",
    "resolve_paths",
    "write_parquet",
]
