"""One batch from the chunks of its N examples: alignment, padding, labels, checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._align import Align
from ._batch import Batch
from ._chunk import Chunk
from ._errors import SequenceDataError
from ._hints import SEQUENCE_LABELS, one_based_classes
from ._pad import float_mask, one_hot, pad, step_mask

__all__ = ["Plan", "assemble", "column_index", "make_plan"]


@dataclass
class Plan:
    """What a batch is made of, resolved once from the readers' columns.

    Attributes:
        feature_rows: indices of the features chunk's channels that are features.
        label_rows: indices of the labels chunk's channels that are labels, or None.
        feature_names, label_names: their column names.
        num_classes: classes for one-hot labels; None for regression.
        align, sequence_labels, allow_nan: as given to `SequenceBatches`.
        class_names: the C class names every batch carries, or None.
    """

    feature_rows: list
    label_rows: list | None
    feature_names: tuple
    label_names: tuple
    num_classes: int | None
    align: Align
    sequence_labels: bool
    allow_nan: bool
    class_names: tuple | None = None


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


def make_plan(columns: tuple, label_columns: tuple | None, *, label_column, regression: bool, classes,
              num_classes, align: Align, sequence_labels: bool, allow_nan: bool, class_names) -> tuple:
    """`(plan, features text map, labels text map)` from the readers' columns and the batch options.

    Args:
        columns: the features reader's columns; label_columns: the labels
            reader's, or None without one.
        label_column, regression, classes, ...: as given to `SequenceBatches`.

    The text maps (record column -> class names) tell each reader's
    `chunks()` which column holds text class labels.

    Raises:
        ValueError: a label_column that is not a column, several for
            classification, or one leaving no feature column.
    """
    feature_idx, label_idx, label_names, ftext, ltext = list(range(len(columns))), None, (), {}, {}
    if label_column is not None:
        specs = label_column if isinstance(label_column, (list, tuple)) else [label_column]
        if len(specs) != 1 and not regression:
            raise ValueError("classification takes one label_column")
        label_idx = [column_index(s, columns, "label_column") for s in specs]
        feature_idx = [i for i in feature_idx if i not in label_idx]
        if not feature_idx:
            raise ValueError("label_column leaves no feature column")
        label_names = tuple(columns[i] for i in label_idx)
        if classes is not None:
            ftext = {label_idx[0]: classes}
    elif label_columns is not None:
        label_idx = list(range(len(label_columns))) if regression else [0]
        label_names = tuple(label_columns[i] for i in label_idx)
        if classes is not None:
            ltext = {0: classes}
    plan = Plan(feature_idx, label_idx, tuple(columns[i] for i in feature_idx), label_names, num_classes,
                align, sequence_labels, allow_nan, None if class_names is None else tuple(class_names))
    return plan, ftext, ltext


def _locate_step(chunk: Chunk, r: int) -> tuple:
    """`(i, t, source, row)` for step r of a chunk's values."""
    i = int(np.searchsorted(chunk.offsets, r, side="right")) - 1
    t = r - int(chunk.offsets[i])
    return (i, t) + tuple(chunk.locate(i, t))


def _check_lengths(fchunk: Chunk, lchunk: Chunk | None, lf, ll) -> None:
    """Under EQUAL_LENGTH every features and labels sequence has the first one's length."""
    want = int(lf[0])
    for what, chunk, lengths in (("features", fchunk, lf), ("labels", lchunk, ll)):
        if lengths is None:
            continue
        bad = np.flatnonzero(lengths != want)
        if len(bad):
            i = int(bad[0])
            source, row = chunk.locate(i, 0)
            single = what == "labels" and int(lengths[i]) == 1 < want
            raise SequenceDataError(
                f"{what} of sequence {chunk.keys[i]!r} differ in length from the batch's first "
                f"features ({fchunk.keys[0]!r}) under align='equal_length'",
                source=source, row=row, expected=f"{want} steps", found=f"{int(lengths[i])} steps",
                hint=SEQUENCE_LABELS if single else
                "use align='align_start' or 'align_end' (--align) for variable-length data, "
                "or sequence_labels=True (--sequence-labels) for one label per sequence")


def _check_finite(array: np.ndarray, starts, chunk: Chunk, names: tuple, what: str) -> None:
    """Raise at the first NaN or inf of a padded `[N, F, T]` (or `[N, K]`) array.

    `starts` (`[N]` or 0) is the step where each example's values begin.
    """
    if np.isfinite(array).all():
        return
    where = tuple(int(k) for k in np.argwhere(~np.isfinite(array))[0])
    n, f = where[0], where[1]
    t = where[2] - int(np.broadcast_to(starts, (len(chunk),))[n]) if len(where) == 3 \
        else int(chunk.lengths[n]) - 1
    source, row = chunk.locate(n, t)
    raise SequenceDataError(
        f"{what} value is not finite (pass allow_nan=True to keep NaN and inf)",
        source=source, row=row, column=names[f], expected="a finite number",
        found=repr(float(array[where])))


def _class_index(values: np.ndarray, chunk: Chunk, num_classes: int, name) -> np.ndarray:
    """int64 `[R]` class indices from float labels; integral floats such as 1.0 are accepted."""
    ok = (values >= 0) & (values < num_classes) & (values == np.floor(values))   # NaN fails all
    if not ok.all():
        r = int(np.flatnonzero(~ok)[0])
        _, _, source, row = _locate_step(chunk, r)
        value = float(values[r])
        if np.isfinite(value) and value == np.floor(value):
            raise SequenceDataError("class index out of range", source=source, row=row, column=name,
                                    expected=f"an integer in [0, {num_classes})", found=f"{value:g}",
                                    hint=one_based_classes(num_classes) if value == num_classes else None)
        raise SequenceDataError("class label is not an integer", source=source, row=row, column=name,
                                expected=f"an integer class index in [0, {num_classes})",
                                found=repr(value))
    return values.astype(np.int64)


def assemble(plan: Plan, fchunk: Chunk, lchunk: Chunk | None) -> Batch:
    """The `Batch` of the N examples in `fchunk` (and their labels in `lchunk`).

    `lchunk` is the labels reader's chunk, or `fchunk` itself when the labels
    are a column of the features reader.
    """
    lf = fchunk.lengths                                                  # [N]
    labelled = plan.label_rows is not None
    ll = lchunk.lengths if labelled and not plan.sequence_labels else None  # [N]
    if plan.align is Align.EQUAL_LENGTH:
        _check_lengths(fchunk, lchunk, lf, ll)
    length = lf if ll is None else np.maximum(lf, ll)                    # [N] per example
    steps = int(length.max())
    end = plan.align is Align.ALIGN_END
    fstart = length - lf if end else 0
    fmask = step_mask(lf, fstart, steps)                                 # [N, T]
    features = pad([fchunk.channels[c] for c in plan.feature_rows], fmask)   # [N, F, T]
    if not plan.allow_nan:
        _check_finite(features, fstart, fchunk, plan.feature_names, "feature")
    labels = labels_mask = None
    if labelled:
        channels = [lchunk.channels[c] for c in plan.label_rows]         # K x [R_l]
        if plan.sequence_labels:
            last = np.stack([ch[lchunk.offsets[1:] - 1] for ch in channels], axis=1)   # [N, K]
            if plan.num_classes is None:
                labels = last.astype(np.float32)                         # [N, K]
                if not plan.allow_nan:
                    _check_finite(labels, 0, lchunk, plan.label_names, "label")
            else:
                index = _class_index(last[:, 0], _last_steps(lchunk), plan.num_classes,
                                     plan.label_names[0])
                labels = np.zeros((len(lf), plan.num_classes), dtype=np.float32)   # [N, C]
                labels[np.arange(len(lf)), index] = 1.0
        else:
            lstart = length - ll if end else 0
            lmask = step_mask(ll, lstart, steps)                         # [N, T]
            if plan.num_classes is None:
                labels = pad(channels, lmask)                            # [N, K, T]
                if not plan.allow_nan:
                    _check_finite(labels, lstart, lchunk, plan.label_names, "label")
            else:
                index = _class_index(channels[0], lchunk, plan.num_classes, plan.label_names[0])
                labels = one_hot(index, lmask, plan.num_classes)         # [N, C, T]
            labels_mask = float_mask(lmask, ll)
    return Batch(features, labels, float_mask(fmask, lf), labels_mask, list(fchunk.keys),
                 None if plan.class_names is None else list(plan.class_names))


def _last_steps(chunk: Chunk) -> Chunk:
    """A chunk whose step i is sequence i's last step, for locating errors in sequence labels."""
    lengths = chunk.lengths
    parent = chunk.locate
    return Chunk([], np.arange(len(chunk) + 1), chunk.keys, (),
                 lambda i, t: parent(i, int(lengths[i]) - 1))
