"""readers: CSV and Parquet sequences to padded NCL batches with masks.

numpy, pandas and pyarrow only: importing readers never imports torch.

    files --(CSVSequenceReader / ParquetSequenceReader / your SequenceReader)--> records [T, C]
          --(SequenceBatches)--> Batch: features [N, F, T], labels, masks [N, T], keys

Every reader is a `SequenceReader`: records one by one (`records()`, the one
method a reader of your own needs) or many at a time as `Chunk`s (`chunks()`,
what `SequenceBatches`, `write_parquet` and `inspect` read). A features
reader and a labels reader are paired by key (`SequenceReader.pair_keys`),
never by position, when both have keys. A reader that splits into `Unit`s
(whole files, Parquet row groups, blocks of a long CSV) lets each process
of a multi-process run read only its share (`SequenceBatches(shard=...)`).
"""

from ._align import Align
from ._array_reader import from_arrays
from ._batch import Batch
from ._chunk import Chunk
from ._csv_reader import CSVSequenceReader
from ._errors import SequenceDataError
from ._from_pandas import from_pandas
from ._header import detect_header
from ._inspect import Summary, inspect
from ._parquet_reader import ParquetSequenceReader
from ._record import Record
from ._sequence_batches import SequenceBatches
from ._sequence_reader import SequenceReader
from ._sharding import Unit
from ._sources import NumberedFiles, resolve_paths
from ._standardize import StandardizedBatches, Standardizer
from ._table_reader import from_arrow
from ._ts_file_reader import TSFileReader
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
    "TSFileReader",
    "Unit",
    "detect_header",
    "from_arrays",
    "from_arrow",
    "from_pandas",
    "inspect",
    "resolve_paths",
    "write_parquet",
]
