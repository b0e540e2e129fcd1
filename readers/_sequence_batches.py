"""SequenceBatches: readers -> padded, masked NCL batches."""

from __future__ import annotations

import math
import os

import numpy as np

from ._align import Align
from ._assemble import Plan, assemble
from ._chunk import Chunk
from ._chunk_cursor import ChunkCursor
from ._errors import SequenceDataError
from ._pairing import pair_indexed, pair_stream
from ._sequence_reader import checked_chunks, require_reader

__all__ = ["SequenceBatches", "column_index"]

_BUCKET_WINDOW = 50          # bucket_by_length sorts windows of this many batches


def _environment_int(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"shard='auto' reads the environment variable {name}, which must be an "
                         f"integer; got {name}={text!r}") from None


def _shard(shard) -> tuple:
    if shard is None:
        return 0, 1
    if isinstance(shard, str) and shard == "auto":
        shard = _environment_int("RANK", 0), _environment_int("WORLD_SIZE", 1)
    try:
        rank, world = shard
    except (TypeError, ValueError):
        raise ValueError(f"shard must be (rank, world_size) or 'auto', got {shard!r}") from None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (rank, world)) \
            or world < 1 or not 0 <= rank < world:
        raise ValueError(f"shard needs integers 0 <= rank < world_size, got {shard!r}")
    return int(rank), int(world)


def column_index(spec, columns: tuple, what: str) -> int:
    """Record column index of a name or (possibly negative) index."""
    n = len(columns)
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if -n <= spec < n:
            return int(spec) % n
        raise ValueError(f"{what} {spec} out of range for {n} columns {list(columns)}")
    if spec in columns:
        return columns.index(spec)
    raise ValueError(f"{what} {spec!r} is not a column; columns are {list(columns)}")


def _concat(chunks: list) -> Chunk:
    """All sequences of `chunks` in one chunk (an empty one for none)."""
    return Chunk.concat(chunks) if chunks else Chunk([], np.zeros(1, dtype=np.int64), [], ())


def _names(values, what: str) -> list:
    names = [str(c) for c in values]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"{what} must be distinct and not empty, got {values!r}")
    return names


def _shard_pairs(pairs, rank: int, world: int):
    """The `(features, labels)` chunk pairs keeping sequence i when i % world == rank."""
    base = 0
    for fchunk, lchunk in pairs:
        n = len(fchunk)
        if world == 1:
            yield fchunk, lchunk
            continue
        keep = np.arange((rank - base) % world, n, world)
        base += n
        if len(keep):
            yield fchunk.take(keep), None if lchunk is None else lchunk.take(keep)


class _Counted:
    """The chunks of a stream, counting their sequences."""

    def __init__(self, chunks):
        self._chunks, self.total = chunks, 0

    def __iter__(self):
        for chunk in self._chunks:
            self.total += len(chunk)
            yield chunk


class SequenceBatches:
    """Padded, masked NCL batches from sequence readers.

    Args:
        features: a `SequenceReader` (`CSVSequenceReader`,
            `ParquetSequenceReader`, or a reader of your own).
        labels: a second `SequenceReader` holding the labels of the
            features sequences, paired by key (see Pairing). For
            classification its first column is the class (other columns
            are ignored, as in DL4J); for regression all its columns are labels.
        batch_size: examples per batch (the last may be smaller).
        num_classes: classes of one-hot labels, an int (may be left out with
            `classes` or `class_names`).
        label_column: with one reader, the label column by name or index
            (negative counts from the end; a list of columns for regression);
            the other columns are the features.
        regression: raw float labels instead of one-hot classes.
        align: "equal_length" (default), "align_start", "align_end" or an `Align`.
        sequence_labels: one label per sequence, the label at its last step:
            labels `[N, C]` (or `[N, K]`), no labels mask.
        classes: class names for text labels; the position in the list is the
            class index. Labels are matched as trimmed text.
        class_names: names of integer labels 0 .. C-1 (for reports); not with
            `classes`, which names text labels.
        shuffle, seed: shuffle the sequences each iteration. Iteration e (0,
            1, ...; see `set_epoch`) uses seed (seed, e), so runs with the same
            seed repeat and every epoch has its own order. Without a seed the
            order is not reproducible.
        drop_last: drop a final batch smaller than batch_size.
        bucket_by_length: batch sequences of similar length to cut padding:
            sequences (shuffled first when shuffle=True) are sorted by length
            within windows of 50 batches, and with shuffle the batch order
            is shuffled.
        shard: (rank, world_size): this process gets features sequences i
            with i % world_size == rank (of the shuffled order when
            shuffling, which then needs a seed); shares are disjoint, cover
            all and differ in size by at most one. "auto" reads RANK and
            WORLD_SIZE (integers).
        allow_nan: keep NaN and inf in features and regression labels
            instead of raising.

    Pairing: features and labels are paired by key, never by position, when
    both readers have keys (`SequenceReader.pair_keys`): a long table by its
    id value, nested Parquet with a key column by that value, one file per
    sequence by the file's number (`NumberedFiles`: `features/%d.csv` and
    `labels/%03d.csv` pair 3 with 003) or by its name without extension
    (a directory or glob: `features/a.csv` with `labels/a.csv`), a reader
    of your own by the keys it yields. Either reader's order may differ; a
    key in one reader only, or twice in one, is a `SequenceDataError`
    naming the sequence and the reader. Files given as a list (or one file)
    and nested Parquet without a key column pair by position: sequence i
    with sequence i, and the readers must hold as many sequences. Batches
    follow the features reader's order; `Batch.keys` are its keys.

    Attributes:
        class_names: the C class names in class index order (`classes`, or
            `class_names`), or None; each `Batch` carries them too.
        num_classes: C for classification, else None.

    Shape (each `Batch`, float32):
        features `[N, F, T]`; labels `[N, C, T]` one-hot, `[N, K, T]`
        regression, `[N, C]` / `[N, K]` sequence labels; masks `[N, T]` or
        None when nothing is padded. T is the longest features or labels
        length in the batch.

    Class labels must be integers 0 .. num_classes-1; floats with an integral
    value (1.0, as a CSV parsed to numbers gives) are accepted, 1.5 is an error.

    Memory: without shuffle or bucketing, batches stream: only the chunk
    being read (a block of CSV files, or a Parquet record batch) and the
    current batch are held, plus, when labels come in another order than
    their features, the labels read ahead of their features. shuffle=True
    or bucket_by_length=True read the whole data set into memory first (its
    values, about 4-8 bytes each), again on every iteration.

    Errors (`SequenceDataError`) name the file, row and column: NaN/inf,
    class labels out of range or not integral, lengths that differ under
    equal_length, keys in one reader only, feature and label readers of
    different sizes (with known sizes before the first batch, otherwise
    when one runs out), and a features reader with no sequence at all.
    """

    def __init__(self, features, labels=None, *, batch_size: int, num_classes: int | None = None,
                 label_column=None, regression: bool = False, align="equal_length",
                 sequence_labels: bool = False, classes=None, class_names=None, shuffle: bool = False,
                 seed=None, drop_last: bool = False, bucket_by_length: bool = False, shard=None,
                 allow_nan: bool = False):
        require_reader(features, "features")
        if labels is not None:
            require_reader(labels, "labels")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer))
                                        or num_classes < 1):
            raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
        try:
            self.align = Align(align)
        except ValueError:
            raise ValueError(f"align must be one of {[a.value for a in Align]}, got {align!r}") from None
        if labels is not None and label_column is not None:
            raise ValueError("give either a labels reader or label_column, not both")
        labelled = labels is not None or label_column is not None
        if classes is not None and class_names is not None:
            raise ValueError("give classes (text labels) or class_names (names of integer labels), not both")
        names = None
        for what, given in (("classes", classes), ("class_names", class_names)):
            if given is None:
                continue
            if regression:
                raise ValueError(f"{what} are for classification; regression labels are numbers")
            names = _names(given, what)
            if num_classes is not None and num_classes != len(names):
                raise ValueError(f"num_classes={num_classes} but {len(names)} {what} given")
            num_classes = len(names)
        classes = None if classes is None else names
        if labelled and not regression and num_classes is None:
            raise ValueError("classification needs num_classes (or classes=); "
                             "pass regression=True for raw labels")
        if sequence_labels and not labelled:
            raise ValueError("sequence_labels=True needs labels or label_column")
        self.rank, self.world_size = _shard(shard)
        if shuffle and seed is None and self.world_size > 1:
            raise ValueError("shuffle with shard needs a seed, so every rank draws the same order")
        self.features, self.labels = features, labels
        self.batch_size = int(batch_size)
        self.num_classes = None if regression or not labelled else int(num_classes)
        self.class_names = names
        self.label_column = label_column
        self.regression, self.sequence_labels, self.classes = regression, sequence_labels, classes
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.bucket_by_length, self.allow_nan = bucket_by_length, allow_nan
        self.epoch = 0
        self._plan = None

    # ---- columns ------------------------------------------------------------------------
    def _resolve(self) -> tuple:
        """`(plan, features text map, labels text map)`, from the readers' columns."""
        if self._plan is not None:
            return self._plan
        columns = tuple(self.features.columns)
        feature_idx, label_idx, label_names, ftext, ltext = list(range(len(columns))), None, (), {}, {}
        if self.label_column is not None:
            specs = self.label_column if isinstance(self.label_column, (list, tuple)) else [self.label_column]
            if len(specs) != 1 and not self.regression:
                raise ValueError("classification takes one label_column")
            label_idx = [column_index(s, columns, "label_column") for s in specs]
            feature_idx = [i for i in feature_idx if i not in label_idx]
            if not feature_idx:
                raise ValueError("label_column leaves no feature column")
            label_names = tuple(columns[i] for i in label_idx)
            if self.classes is not None:
                ftext = {label_idx[0]: self.classes}
        elif self.labels is not None:
            lcolumns = tuple(self.labels.columns)
            label_idx = list(range(len(lcolumns))) if self.regression else [0]
            label_names = tuple(lcolumns[i] for i in label_idx)
            if self.classes is not None:
                ltext = {0: self.classes}
        plan = Plan(feature_idx, label_idx,
                    tuple(columns[i] for i in feature_idx), label_names, self.num_classes,
                    self.align, self.sequence_labels, self.allow_nan,
                    None if self.class_names is None else tuple(self.class_names))
        self._plan = plan, ftext, ltext
        return self._plan

    @property
    def feature_columns(self) -> tuple:
        """Names of the F feature channels."""
        return self._resolve()[0].feature_names

    @property
    def label_columns(self) -> tuple:
        """Names of the label columns (one for classification)."""
        return self._resolve()[0].label_names

    @property
    def num_features(self) -> int:
        """F, the feature channels of every batch."""
        return len(self.feature_columns)

    @property
    def num_outputs(self) -> int | None:
        """C classes or K regression targets (None without labels)."""
        if self.num_classes is not None:
            return self.num_classes
        return len(self.label_columns) or None

    # ---- sizes and pairing --------------------------------------------------------------
    def _mismatch(self, n_features: int, n_labels: int) -> SequenceDataError:
        return SequenceDataError(
            "feature and label readers hold different numbers of sequences",
            source=f"features {self.features!r}, labels {self.labels!r}",
            expected=f"{n_features} label sequences (one per features sequence)",
            found=f"{n_features} features and {n_labels} labels sequences")

    def _empty(self) -> SequenceDataError:
        return SequenceDataError("no sequences to batch", source=repr(self.features),
                                 expected="at least one sequence", found="none")

    def _size(self) -> int:
        """Sequences in the data set (TypeError when unknown before reading)."""
        n = len(self.features)
        if n == 0:
            raise self._empty()
        if self.labels is not None and len(self.labels) != n:
            raise self._mismatch(n, len(self.labels))
        return n

    def _pair_keys(self) -> tuple:
        """`(features pair_keys, labels pair_keys)`, or `(None, None)` to pair by position."""
        fkey = getattr(self.features, "pair_keys", None)
        lkey = getattr(self.labels, "pair_keys", None)
        if fkey is None or lkey is None or fkey([]) is None or lkey([]) is None:
            return None, None
        return fkey, lkey

    def __len__(self) -> int:
        share = len(range(self.rank, self._size(), self.world_size))
        return share // self.batch_size if self.drop_last else math.ceil(share / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch `epoch` (its shuffle order); later ones count on from it."""
        self.epoch = int(epoch)

    # ---- iteration ----------------------------------------------------------------------
    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        plan, ftext, ltext = self._resolve()
        try:
            self._size()
        except TypeError:
            pass                   # unknown sizes are compared when a reader runs out
        if self.shuffle or self.bucket_by_length:
            return self._indexed(plan, ftext, ltext, epoch)
        return self._streamed(plan, ftext, ltext)

    def _streamed(self, plan, ftext, ltext):
        rows = self.batch_size * self.world_size          # sequences read per batch of this rank
        features = _Counted(checked_chunks(self.features, ftext, rows=rows))
        if self.labels is None:
            pairs = ((chunk, None) for chunk in features)
        else:
            pairs = pair_stream(features, checked_chunks(self.labels, ltext, rows=rows),
                                *self._pair_keys(), self._mismatch)
        cursor = ChunkCursor(_shard_pairs(pairs, self.rank, self.world_size))
        while True:
            taken = cursor.take(self.batch_size)
            if taken is None:
                break
            fchunk, lchunk = taken
            if len(fchunk) < self.batch_size and self.drop_last:
                break
            yield assemble(plan, fchunk, fchunk if lchunk is None else lchunk)
        if features.total == 0:
            raise self._empty()

    def _indexed(self, plan, ftext, ltext, epoch: int):
        fall = _concat(list(checked_chunks(self.features, ftext)))
        if len(fall) == 0:
            raise self._empty()
        lall = fall
        if self.labels is not None:
            lall = _concat(list(checked_chunks(self.labels, ltext)))
            fkey, lkey = self._pair_keys()
            if fkey is not None:
                lall = pair_indexed(fall, lall, fkey, lkey)
            elif len(fall) != len(lall):
                raise self._mismatch(len(fall), len(lall))
        rng = np.random.default_rng(None if self.seed is None else [self.seed, epoch])
        order = rng.permutation(len(fall)) if self.shuffle else np.arange(len(fall))
        order = order[self.rank::self.world_size]                               # this rank's share
        size = self.batch_size
        if self.bucket_by_length:
            length = fall.lengths
            if plan.label_rows is not None and not plan.sequence_labels:
                length = np.maximum(length, lall.lengths)
            window = size * _BUCKET_WINDOW
            order = np.concatenate([part[np.argsort(length[part], kind="stable")]
                                    for part in np.split(order, range(window, len(order), window))]) \
                if len(order) else order
        batches = [order[i:i + size] for i in range(0, len(order), size)]
        if batches and self.drop_last and len(batches[-1]) < size:
            batches.pop()
        if self.bucket_by_length and self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        for index in batches:
            fchunk = fall.take(index)
            yield assemble(plan, fchunk, lall.take(index) if lall is not fall else fchunk)

    def __repr__(self) -> str:
        return (f"SequenceBatches({self.features!r}, labels={self.labels!r}, batch_size={self.batch_size}, "
                f"align={self.align.value!r}, shuffle={self.shuffle}, "
                f"shard=({self.rank}, {self.world_size}))")
