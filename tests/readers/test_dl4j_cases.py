"""DL4J's SequenceRecordReaderDataSetIterator cases, re-expressed (dl4j.md section 8, #1-#3)."""

import numpy as np
import pytest

import readers
from seqdata import write_csv


def _numbered(folder, sequences, header=None):
    folder.mkdir(exist_ok=True)
    for i, seq in enumerate(sequences):
        write_csv(folder / f"{i}.csv", [[v] if np.isscalar(v) else v for v in seq], header)
    return readers.NumberedFiles(str(folder / "%d.csv"), 0, len(sequences) - 1)


def test_align_end_worked_example(tmp_path):
    """#1 testSeqRRDSIMasking: the ALIGN_END worked example of DESIGN.md."""
    features = readers.CSVSequenceReader(_numbered(tmp_path / "f", [[1, 2, 3], [4, 5]]))
    labels = readers.CSVSequenceReader(_numbered(tmp_path / "l", [[0], [1]]))
    (batch,) = readers.SequenceBatches(features, labels, batch_size=2, num_classes=2,
                                       align="align_end")
    np.testing.assert_array_equal(batch.features[:, 0, :], [[1, 2, 3], [4, 5, 0]])
    np.testing.assert_array_equal(batch.features_mask, [[1, 1, 1], [1, 1, 0]])
    np.testing.assert_array_equal(batch.labels_mask, [[0, 0, 1], [0, 1, 0]])
    assert batch.labels.shape == (2, 2, 3)
    assert sorted(map(tuple, np.argwhere(batch.labels == 1))) == [(0, 0, 2), (1, 1, 1)]
    assert batch.labels.sum() == 2
    assert batch.features.dtype == batch.labels.dtype == batch.features_mask.dtype == np.float32


@pytest.mark.parametrize("align, masks", [
    ("align_start", [[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]]),
    (readers.Align.ALIGN_END, [[0, 0, 1, 1], [0, 0, 0, 1], [0, 1, 1, 1]]),
])
def test_variable_length_labels(tmp_path, align, masks):
    """#2 testVariableLengthSequence: features of length 4, labels of length 2, 1, 3."""
    feats = [[[1, 2], [3, 4], [5, 6], [7, 8]], [[9, 8], [7, 6], [5, 4], [3, 2]],
             [[0, 1], [0, 2], [0, 3], [0, 4]]]
    labs = [[0, 1], [2], [1, 1, 0]]
    features = readers.CSVSequenceReader(_numbered(tmp_path / "f", feats))
    labels = readers.CSVSequenceReader(_numbered(tmp_path / "l", labs))
    batches = list(readers.SequenceBatches(features, labels, batch_size=1, num_classes=3, align=align))
    assert len(batches) == 3
    for batch, feat, lab, mask in zip(batches, feats, labs, masks):
        np.testing.assert_array_equal(batch.features[0], np.asarray(feat, np.float32).T)
        assert batch.features_mask is None
        np.testing.assert_array_equal(batch.labels_mask[0], mask)
        steps = np.flatnonzero(batch.labels_mask[0])
        np.testing.assert_array_equal(batch.labels[0][:, steps].argmax(axis=0), lab)
        assert batch.labels.sum() == len(lab)


def _single_reader_files(tmp_path):
    rows = [[[0, 1, 2], [1, 3, 4], [2, 5, 6], [0, 7, 8]],
            [[1, 9, 8], [2, 7, 6], [0, 5, 4], [1, 3, 2]],
            [[2, 0, 1], [0, 2, 3], [1, 4, 5], [2, 6, 7]]]
    return rows, _numbered(tmp_path / "s", rows, header=["label", "a", "b"])


def test_single_reader_label_column_0_with_header_skipped(tmp_path):
    """#3 testSequenceRecordReaderSingleReader: classification."""
    rows, files = _single_reader_files(tmp_path)
    reader = readers.CSVSequenceReader(files, skip_lines=1)
    batches = readers.SequenceBatches(reader, batch_size=1, num_classes=3, label_column=0)
    assert batches.num_outputs == 3 and batches.num_features == 2
    for batch, seq in zip(batches, rows):
        seq = np.asarray(seq, np.float32)
        assert batch.features.shape == (1, 2, 4)
        assert batch.labels.shape == (1, 3, 4)
        assert batch.features_mask is None and batch.labels_mask is None
        np.testing.assert_array_equal(batch.features[0], seq[:, 1:].T)
        np.testing.assert_array_equal(batch.labels[0].argmax(axis=0), seq[:, 0])


def test_single_reader_label_column_0_regression(tmp_path):
    """#3, regression: labels [1, 1, 4]."""
    rows, files = _single_reader_files(tmp_path)
    reader = readers.CSVSequenceReader(files, skip_lines=1)
    batches = readers.SequenceBatches(reader, batch_size=1, label_column="label", regression=True)
    assert batches.num_outputs == 1
    for batch, seq in zip(batches, rows):
        assert batch.labels.shape == (1, 1, 4)
        np.testing.assert_array_equal(batch.labels[0, 0], np.asarray(seq)[:, 0])
        assert batch.labels_mask is None
