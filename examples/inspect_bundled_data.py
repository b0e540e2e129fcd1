"""Summarise the bundled data sets and one batch of each (`make demo`).

Reads datasets/ through the readers API: the synthetic control set in DL4J's
numbered-file layout (one label per series, ALIGN_END), and the
variable-length set as a long table, from CSV (a label on every step) and
from Parquet (one label per sequence).
"""

import os
from pathlib import Path

import readers

# Relative to the working directory, so that keys and sources print short.
DATA = Path(os.path.relpath(Path(__file__).resolve().parents[1] / "datasets"))


def show_batch(batches) -> None:
    batch = next(iter(batches))
    print(f"  one batch: features {batch.features.shape}, labels {batch.labels.shape}")
    for name, mask in (("features", batch.features_mask), ("labels", batch.labels_mask)):
        if mask is None:
            print(f"  {name} mask: None (no padded steps)")
        else:
            real = mask.sum(axis=1)
            print(f"  {name} mask: {mask.shape}, real steps per sequence "
                  f"{int(real.min())}..{int(real.max())}, {1 - mask.mean():.0%} padding")
    print(f"  keys: {batch.keys[0]}, {batch.keys[1]}, ...")


def main() -> None:
    sc = DATA / "synthetic_control" / "train"

    def numbered(kind):
        return readers.CSVSequenceReader(readers.NumberedFiles(f"{sc}/{kind}/%d.csv", 0, 449))

    print("synthetic_control/train: numbered CSV files")
    print(readers.inspect(numbered("features"), labels=numbered("labels")))
    show_batch(readers.SequenceBatches(numbered("features"), numbered("labels"), batch_size=32,
                                       num_classes=6, align="align_end"))

    varlen = {"CSV": readers.CSVSequenceReader(DATA / "varlen" / "train.csv", skip_lines=1,
                                               id_column="series_id", order_column="t"),
              "Parquet": readers.ParquetSequenceReader(DATA / "varlen" / "train.parquet",
                                                       id_column="series_id", order_column="t")}
    for fmt, reader in varlen.items():
        # From CSV a label on every step; from Parquet one label per sequence.
        print(f"\nvarlen/train: long {fmt} table")
        print(readers.inspect(reader, label_column="label"))
        show_batch(readers.SequenceBatches(reader, batch_size=32, num_classes=4,
                                           label_column="label", align="align_end",
                                           sequence_labels=fmt == "Parquet"))


if __name__ == "__main__":
    main()
