"""SequenceBatches: readers -> padded, masked NCL batches."""

from __future__ import annotations

import copy
import logging
import math

import numpy as np

from ._align import Align
from ._assemble import assemble, make_plan
from ._batch_orders import bucketed, buffered, in_memory, in_order
from ._sequence_reader import require_reader
from ._shares import Sources
from ._sharding import parse_shard, split_units, worker_split

__all__ = ["SequenceBatches"]

_log = logging.getLogger("readers")


def _names(values, what: str) -> list:
    names = [str(c) for c in values]
    if len(set(names)) != len(names) or not names:
        raise ValueError(f"{what} must be distinct and not empty, got {values!r}")
    return names


def _positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


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
            order is not reproducible. Small data (see Scale) is shuffled in
            memory (`shuffle_mode == "full"`); large data in bounded memory
            (`"buffer"`): the units are shuffled, then a buffer of
            sequences.
        shuffle_buffer: the bounded shuffle's buffer, in sequences; giving
            it asks for the bounded shuffle whatever the size (needs
            shuffle=True). By default `default_shuffle_buffer` (10,000).
        drop_last: drop a final batch smaller than batch_size.
        bucket_by_length: batch sequences of similar length to cut padding:
            sequences (shuffled first when shuffle=True) are sorted by length
            within windows of 50 batches (within the half of the buffer that
            leaves it, for the bounded shuffle), and with shuffle the batch
            order is shuffled.
        shard: (rank, world_size): this process's share of the data (see
            Scale); "auto" reads RANK and WORLD_SIZE (integers).
        shard_by: "sequence": every process reads everything and keeps
            features sequences i with i % world_size == rank (of the shuffled
            order when shuffling, which then needs a seed); shares are
            disjoint, cover all, differ in size by at most one, and w ranks
            of batch b see the batches of one process of batch w*b. "unit":
            each process reads only its units (`SequenceReader.units()`:
            whole files, Parquet row groups, blocks of a long CSV), shares
            balanced by rows (by bytes for CSV); ranks may then get
            different numbers of batches. None (default): "unit" for large
            data whose reader splits when several processes share it or it
            is shuffled, else "sequence". `sharding` says which.
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

    Scale: data is small when the size its reader's units give (Parquet:
    uncompressed row groups; CSV: file bytes) is at most
    `small_data_bytes` (256 MiB), or when the reader does not split into
    units. Small data is shared out by sequence and shuffled in memory;
    large data by unit and shuffled in bounded memory. By unit, a long
    table's sequence belongs to the unit holding its first row (its reader
    reads on while the id goes on), so each id's rows must be together.
    Under torch's DataLoader, `worker_share(worker_id, num_workers)` splits
    a rank's share between its workers the same way. docs/data.md, "Several
    processes", has the details.

    Memory: without shuffle, batches stream: only the chunk being read (a
    block of CSV files, a CSV block, a Parquet record batch) and the current
    batch are held, plus, when labels come in another order than their
    features, the labels read ahead of their features. bucket_by_length
    alone holds 50 batches. The bounded shuffle holds its buffer (and about
    half of it again while a half leaves). The full shuffle reads this
    process's share into memory (its values, about 4-8 bytes each), again
    on every iteration.

    Errors (`SequenceDataError`) name the file, row and column: NaN/inf,
    class labels out of range or not integral, lengths that differ under
    equal_length, keys in one reader only, feature and label readers of
    different sizes (with known sizes before the first batch, otherwise
    when one runs out), and a features reader with no sequence at all.
    """

    small_data_bytes = 256 << 20          # data at most this size is small (see Scale)
    default_shuffle_buffer = 10_000       # sequences in the bounded shuffle's buffer by default

    def __init__(self, features, labels=None, *, batch_size: int, num_classes: int | None = None,
                 label_column=None, regression: bool = False, align="equal_length",
                 sequence_labels: bool = False, classes=None, class_names=None, shuffle: bool = False,
                 seed=None, drop_last: bool = False, bucket_by_length: bool = False, shard=None,
                 shard_by: str | None = None, shuffle_buffer: int | None = None, allow_nan: bool = False):
        require_reader(features, "features")
        if labels is not None:
            require_reader(labels, "labels")
        _positive(batch_size, "batch_size")
        if num_classes is not None:
            _positive(num_classes, "num_classes")
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
        self.rank, self.world_size = parse_shard(shard)
        if shuffle and seed is None and self.world_size > 1:
            raise ValueError("shuffle with shard needs a seed, so every rank draws the same order")
        if shard_by not in (None, "sequence", "unit"):
            raise ValueError(f"shard_by must be 'sequence', 'unit' or None, got {shard_by!r}")
        if shuffle_buffer is not None:
            _positive(shuffle_buffer, "shuffle_buffer")
            if not shuffle:
                raise ValueError("shuffle_buffer is the size of the shuffle buffer: it needs shuffle=True")
        self.features, self.labels = features, labels
        self.batch_size = int(batch_size)
        self.num_classes = None if regression or not labelled else int(num_classes)
        self.class_names = names
        self.label_column = label_column
        self.regression, self.sequence_labels, self.classes = regression, sequence_labels, classes
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.bucket_by_length, self.allow_nan = bucket_by_length, allow_nan
        self.shard_by, self.shuffle_buffer = shard_by, shuffle_buffer
        self.worker, self.num_workers = 0, 1
        self.epoch = 0
        # Without a seed: one drawn now, so that the worker shares of this object agree on orders.
        self._seed = seed if seed is not None else np.random.SeedSequence().entropy
        self._plan = None
        self._modes = None
        self._logged = False

    # ---- columns ------------------------------------------------------------------------
    def _resolve(self) -> tuple:
        """`(plan, Sources)`, from the readers' columns."""
        if self._plan is None:
            plan, ftext, ltext = make_plan(
                tuple(self.features.columns), None if self.labels is None else tuple(self.labels.columns),
                label_column=self.label_column, regression=self.regression, classes=self.classes,
                num_classes=self.num_classes, align=self.align, sequence_labels=self.sequence_labels,
                allow_nan=self.allow_nan, class_names=self.class_names)
            self._plan = plan, Sources(self.features, self.labels, ftext, ltext)
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

    # ---- how the data is shared out and shuffled ----------------------------------------
    def _decide(self) -> tuple:
        """`(sharding, shuffle_mode)`, decided once (see Scale in the class docstring)."""
        if self._modes is not None:
            return self._modes
        sources = self._resolve()[1]
        several = self.world_size * self.num_workers > 1
        auto = self.shard_by is None and (several or self.shuffle)        # by size
        sized = auto or (self.shuffle and self.shuffle_buffer is None)
        units = sources.units() if sized or self.shard_by == "unit" else None   # listing them costs
        large = units is not None and sum(u.nbytes for u in units) > self.small_data_bytes
        if self.shard_by == "unit":
            if units is None:
                raise ValueError(f"shard_by='unit': {self.features!r} does not split into units "
                                 "(SequenceReader.units()); use shard_by='sequence'")
            if not sources.can_split():
                raise ValueError("shard_by='unit' cannot pair these labels unit by unit: they pair "
                                 "by position; give both readers keys, or use shard_by='sequence'")
        sharding = "unit" if self.shard_by == "unit" or (auto and large and sources.can_split()) \
            else "sequence"
        shuffle_mode = None if not self.shuffle else \
            "buffer" if self.shuffle_buffer is not None or large else "full"
        self._modes = sharding, shuffle_mode
        return self._modes

    @property
    def sharding(self) -> str:
        """How the data is shared out between processes: "sequence" or "unit" (see `shard_by`)."""
        return self._decide()[0]

    @property
    def shuffle_mode(self) -> str | None:
        """None (no shuffle), "full" (in memory) or "buffer" (bounded: units, then a buffer of sequences)."""
        return self._decide()[1]

    def _part(self) -> tuple:
        """`(index, parts)`: this process's share among all ranks' workers (by sequence)."""
        return self.rank + self.world_size * self.worker, self.world_size * self.num_workers

    def _share(self, epoch: int) -> np.ndarray:
        """int64: the units this process reads in `epoch`, in reading order."""
        units = self._resolve()[1].units()
        weights = np.array([u.weight for u in units], dtype=np.int64)
        order = np.random.default_rng([self._seed, epoch, 1]).permutation(len(units)) if self.shuffle \
            else np.arange(len(units))
        mine = split_units(weights, order, self.world_size)[self.rank]
        return split_units(weights, mine, self.num_workers)[self.worker]

    def share(self, epoch: int | None = None) -> list | None:
        """The `Unit`s this process reads in an epoch (by default the next iteration's), in order.

        None when the data is shared out by sequence (every process reads it all).
        """
        if self.sharding != "unit":
            return None
        units = self._resolve()[1].units()
        return [units[u] for u in self._share(self.epoch if epoch is None else int(epoch)).tolist()]

    def worker_share(self, worker_id: int, num_workers: int) -> SequenceBatches:
        """A copy that reads one DataLoader worker's part of this process's share.

        The rank's share (`shard`) is split again between `num_workers`
        workers the same way (by sequence, or by unit, balanced by rows), so
        the workers of all ranks together read every sequence once. The copy
        starts at this object's epoch. torch's `get_worker_info()` gives the
        arguments; `seqkit.network.SequenceDataset` does this for you.

        Raises:
            ValueError: not `0 <= worker_id < num_workers`, or this object
                is already a worker's share.
        """
        worker_id, num_workers = worker_split(worker_id, num_workers)
        if self.num_workers != 1:
            raise ValueError(f"this is already worker {self.worker}'s share of {self.num_workers}")
        other = copy.copy(self)
        other.worker, other.num_workers = worker_id, num_workers
        other._modes = None                # decided again for the worker (see `sharding`)
        return other

    # ---- sizes --------------------------------------------------------------------------
    def __len__(self) -> int:
        """Batches of the next iteration; TypeError while the sequences of this share are unknown.

        By unit, a share's count is known up front when its units' are (one
        file per sequence, nested Parquet), not for a long table's blocks.
        """
        sources = self._resolve()[1]
        if self.sharding == "unit":
            units = sources.units()
            counts = [units[u].sequences for u in self._share(self.epoch).tolist()]
            if any(c is None for c in counts):
                raise TypeError("the number of sequences of this share of a long table is known only "
                                "after reading it")
            share = sum(counts)
        else:
            index, parts = self._part()
            share = len(range(index, sources.size(), parts))
        return share // self.batch_size if self.drop_last else math.ceil(share / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch `epoch` (its shuffle order); later ones count on from it."""
        self.epoch = int(epoch)

    # ---- iteration ----------------------------------------------------------------------
    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        plan, sources = self._resolve()
        sharding, mode = self._decide()
        if sharding == "sequence":
            try:
                sources.size()
            except TypeError:
                pass                   # unknown sizes are compared when a reader runs out
        elif not sources.units():
            raise sources.empty()
        if not self._logged:
            self._logged = True
            _log.info("SequenceBatches: sharding=%s, shuffle_mode=%s, rank %d of %d, worker %d of %d",
                      sharding, mode, self.rank, self.world_size, self.worker, self.num_workers)
        return self._batches(plan, sources, epoch)

    def _batches(self, plan, sources, epoch: int):
        sharding, mode = self._decide()
        size, drop = self.batch_size, self.drop_last
        by_labels = plan.label_rows is not None and not plan.sequence_labels
        whole = self.world_size * self.num_workers == 1
        rng = np.random.default_rng([self._seed, epoch])
        units = self._share(epoch) if sharding == "unit" else None
        if mode == "full":
            pair = sources.all_in_memory(units, whole=whole)
            if not len(pair[0]) and (sharding == "sequence" or whole):
                raise sources.empty()
            order = rng.permutation(len(pair[0]))
            if sharding == "sequence":
                index, parts = self._part()
                order = order[index::parts]
            batches = in_memory(pair, order, size, drop, bucket=self.bucket_by_length, by_labels=by_labels,
                                rng=rng)
            count = None
        else:
            if sharding == "unit":
                pairs, count = sources.unit_pairs(units, size, whole=whole)
            else:
                index, parts = self._part()
                pairs, count = sources.sequence_pairs(index, parts, size * parts)
            if mode == "buffer":
                rng = np.random.default_rng([self._seed, epoch, 2, self.rank, self.worker])
                batches = buffered(pairs, size, drop, capacity=self.shuffle_buffer or self.default_shuffle_buffer,
                                   rng=rng, bucket=self.bucket_by_length, by_labels=by_labels)
            elif self.bucket_by_length:
                batches = bucketed(pairs, size, drop, by_labels)
            else:
                batches = in_order(pairs, size, drop)
        for fchunk, lchunk in batches:
            yield assemble(plan, fchunk, fchunk if lchunk is None else lchunk)
        if count is not None and count.total == 0 and (sharding == "sequence" or whole):
            raise sources.empty()

    def __repr__(self) -> str:
        extra = "".join(f", {name}={value!r}" for name, value in
                        (("shard_by", self.shard_by), ("shuffle_buffer", self.shuffle_buffer))
                        if value is not None)
        worker = f", worker=({self.worker}, {self.num_workers})" if self.num_workers > 1 else ""
        return (f"SequenceBatches({self.features!r}, labels={self.labels!r}, batch_size={self.batch_size}, "
                f"align={self.align.value!r}, shuffle={self.shuffle}, "
                f"shard=({self.rank}, {self.world_size}){extra}{worker})")
