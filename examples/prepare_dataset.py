"""Prepare a data set: raw long CSV -> validated -> split by sequence -> nested Parquet, checked.

The job of a dataset-preparation script, on a made-up but typical raw file:
accelerometer logs of many devices in one CSV, one row per sample,

    device,timestamp,ax,ay,az,activity
    dev-017,1718000012.31,0.412,-0.087,0.951,walk
    ...

with the devices' rows interleaved, rows not always in time order, the
activity (the class) as text, and two faults a real export has now and then:
a mistyped number and a row logged twice. The script

1. writes that raw file (``raw/accelerometer.csv`` in the output folder);
2. validates it with ``readers.inspect`` (``CSVSequenceReader`` with
   ``id_column="device"``, ``order_column="timestamp"``). Bad data is an
   error that names the file, the row and the column; the script reports each
   one, moves the offending row to ``raw/rejected.csv`` and validates again,
   until the file is clean. Then it prints the summary (sequences, lengths,
   columns, NaN count, classes) and checks the project's rules: one activity
   per device, at least 20 samples;
3. splits by device, never by row, stratified by activity (75% / 25%,
   seeded), so no device is in both splits;
4. writes each split as nested Parquet (one row per device, a list column
   per channel, the label, the key) with ``readers.write_parquet``, going
   through a long Parquet staging file in which the text activity is an
   integer class (``classes.json`` keeps the names): ``write_parquet``
   writes numbers only;
5. reads both files back with ``ParquetSequenceReader`` and checks that every
   device is there, in one split only, with exactly the values of the raw
   file in time order, and prints one batch.

Run:
    python examples/prepare_dataset.py                  # writes to a new temporary folder, ~1 s
    python examples/prepare_dataset.py --out data/prep  # or to a folder of your choice
    python examples/prepare_dataset.py --smoke          # fewer devices, for the tests
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd

import readers

ACTIVITIES = ["idle", "walk", "run"]
CHANNELS = ["ax", "ay", "az"]
MIN_LENGTH = 20
TEST_FRACTION = 0.25


# ---- 1. a raw export ----------------------------------------------------------------------------

def write_raw_csv(path: str, devices: int, rng: np.random.Generator) -> pd.DataFrame:
    """The raw export, faults included; returns the clean table it was made from."""
    parts = []
    for d in range(devices):
        activity = int(rng.integers(0, 3))
        n = int(rng.integers(40, 121))
        t = 1_718_000_000 + rng.uniform(0, 600) + np.cumsum(rng.uniform(0.08, 0.12, n))   # ~10 Hz
        freq, amp = [(0.0, 0.0), (2.0, 1.0), (3.0, 2.5)][activity]
        phase = rng.uniform(0, 2 * np.pi, 3)
        wave = amp * np.sin(2 * np.pi * freq * (t - t[0])[:, None] + phase)           # [n, 3]
        values = wave + rng.normal(0, 0.15, (n, 3)) + [0.0, 0.0, 1.0]                 # gravity on z
        parts.append(pd.DataFrame({"device": f"dev-{d:03d}", "timestamp": t.round(3),
                                   **{c: values[:, k].round(3) for k, c in enumerate(CHANNELS)},
                                   "activity": ACTIVITIES[activity]}))
    clean = pd.concat(parts, ignore_index=True)
    raw = clean.sort_values("timestamp", kind="stable").reset_index(drop=True)   # devices interleaved
    swap = 2 * rng.choice((len(raw) - 1) // 2, size=len(raw) // 20, replace=False)   # disjoint pairs (i, i+1)
    order = np.arange(len(raw))
    order[swap], order[swap + 1] = order[swap + 1], order[swap]                    # a few rows out of order
    raw = raw.iloc[order].astype({c: object for c in CHANNELS})
    raw.iloc[len(raw) // 3, raw.columns.get_loc("ay")] = "0.1O3"                  # a mistyped number
    at = 2 * len(raw) // 3
    raw = pd.concat([raw.iloc[:at + 1], raw.iloc[[at]], raw.iloc[at + 1:]])        # a row logged twice
    raw.to_csv(path, index=False)
    return clean


# ---- 2. validation --------------------------------------------------------------------------------

def long_reader(path: str):
    return readers.CSVSequenceReader(path, skip_lines=1, id_column="device", order_column="timestamp")


def validate(raw_path: str, clean_path: str, rejected_path: str, max_fixes: int = 10) -> readers.Summary:
    """Summarise the raw file; each bad row is reported, moved to ``rejected_path``, and validation repeats.

    The first pass reads the raw file itself; after a rejection the remaining
    lines go to ``clean_path``, which is read next (row numbers in its errors
    are its own; the raw file's line number is printed next to them).
    """
    with open(raw_path, encoding="utf-8") as f:
        lines = list(enumerate(f.read().splitlines(), start=1))        # (raw line number, text)
    rejected, path = [], raw_path
    while True:
        try:
            return readers.inspect(long_reader(path), label_column="activity", classes=ACTIVITIES)
        except readers.SequenceDataError as err:
            if err.row is None or len(rejected) == max_fixes:
                raise
            number, text = lines.pop(err.row - 1)
            print(f"  data error: {err}")
            print(f"    rejected (raw line {number}): {text}")
            rejected.append(text)
        with open(rejected_path, "w", encoding="utf-8") as f:
            f.write("\n".join([lines[0][1]] + rejected) + "\n")
        with open(clean_path, "w", encoding="utf-8") as f:
            f.write("\n".join(text for _, text in lines) + "\n")
        path = clean_path


def check_rules(table: pd.DataFrame, summary: readers.Summary) -> None:
    """Project rules beyond what the reader checks."""
    per_device = table.groupby("device")["activity"].nunique()
    if (per_device > 1).any():
        raise SystemExit(f"device {per_device.index[per_device > 1][0]} has more than one activity")
    if summary.length_min < MIN_LENGTH:
        raise SystemExit(f"a device has only {summary.length_min} samples (minimum {MIN_LENGTH})")
    if summary.nan_count:
        raise SystemExit(f"{summary.nan_count} missing values among the channels")
    print(f"  rules: one activity per device, >= {MIN_LENGTH} samples each, no NaN: ok")


# ---- 3. split -------------------------------------------------------------------------------------

def stratified_split(table: pd.DataFrame, seed: int) -> dict:
    """Device ids per split: TEST_FRACTION of each activity's devices go to test."""
    rng = np.random.default_rng(seed)
    devices = table.groupby("device", sort=True)["activity"].first()
    split = {"train": [], "test": []}
    for activity in ACTIVITIES:
        ids = devices.index[devices == activity].to_numpy()
        ids = ids[rng.permutation(len(ids))]
        n_test = int(round(len(ids) * TEST_FRACTION))
        split["test"] += ids[:n_test].tolist()
        split["train"] += ids[n_test:].tolist()
    return split


# ---- 4. write -------------------------------------------------------------------------------------

def write_split(table: pd.DataFrame, ids: list, staging: str, out: str) -> int:
    """Long Parquet staging file (integer labels) -> nested Parquet with ``write_parquet``."""
    part = table[table["device"].isin(set(ids))].copy()
    part["label"] = part.pop("activity").map({name: i for i, name in enumerate(ACTIVITIES)})
    part.to_parquet(staging, index=False)
    long = readers.ParquetSequenceReader(staging, id_column="device", order_column="timestamp")
    return readers.write_parquet(long, out)


# ---- 5. check -------------------------------------------------------------------------------------

def check_written(path: str, table: pd.DataFrame, ids: list) -> readers.ParquetSequenceReader:
    """Every device of the split, once, with the raw values in time order."""
    reader = readers.ParquetSequenceReader(path)          # write_parquet named the key column in the metadata
    expected = {d: g.sort_values("timestamp") for d, g in table[table["device"].isin(set(ids))]
                .groupby("device")}
    seen = 0
    for record in reader:
        rows = expected.pop(record.key)                              # KeyError: a device not in the split
        want = rows[CHANNELS].to_numpy(dtype=np.float64)
        label = ACTIVITIES.index(rows["activity"].iloc[0])
        if list(record.columns) != CHANNELS + ["label"] or not np.array_equal(record.values[:, :3], want) \
                or not (record.values[:, 3] == label).all():
            raise SystemExit(f"{path}: sequence {record.key} differs from the raw data")
        seen += 1
    if expected:
        raise SystemExit(f"{path}: {len(expected)} devices missing, e.g. {next(iter(expected))}")
    print(f"  {os.path.basename(path)}: {seen} devices, values identical to the raw file (time-ordered)")
    return reader


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="output folder (default: a new temporary folder)")
    parser.add_argument("--devices", type=int, default=240)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--smoke", action="store_true", help="24 devices, for the tests")
    args = parser.parse_args(argv)
    devices = 24 if args.smoke else args.devices
    start = time.perf_counter()
    out = args.out or tempfile.mkdtemp(prefix="seqkit-prepared-")
    os.makedirs(os.path.join(out, "raw"), exist_ok=True)
    os.makedirs(os.path.join(out, "staging"), exist_ok=True)
    rng = np.random.default_rng(args.seed)

    raw_path = os.path.join(out, "raw", "accelerometer.csv")
    write_raw_csv(raw_path, devices, rng)
    print(f"1. raw export: {raw_path} ({os.path.getsize(raw_path) / 1e3:.0f} kB)")

    print("2. validate")
    clean_path = os.path.join(out, "raw", "accelerometer.clean.csv")
    summary = validate(raw_path, clean_path, os.path.join(out, "raw", "rejected.csv"))
    print("\n".join("  " + line for line in str(summary).splitlines()))
    table = pd.read_csv(clean_path if os.path.exists(clean_path) else raw_path)
    check_rules(table, summary)

    print("3. split by device, stratified by activity")
    split = stratified_split(table, args.seed)
    for name, ids in split.items():
        counts = table[table["device"].isin(set(ids))].groupby("activity")["device"].nunique()
        print(f"  {name}: {len(ids)} devices ({', '.join(f'{a} {counts.get(a, 0)}' for a in ACTIVITIES)})")
    if set(split["train"]) & set(split["test"]):
        raise SystemExit("a device is in both splits")

    print("4. write nested Parquet")
    with open(os.path.join(out, "classes.json"), "w", encoding="utf-8") as f:
        json.dump(ACTIVITIES, f)
    paths = {}
    for name, ids in split.items():
        paths[name] = os.path.join(out, f"{name}.parquet")
        n = write_split(table, ids, os.path.join(out, "staging", f"{name}.long.parquet"), paths[name])
        print(f"  {paths[name]}: {n} sequences, {os.path.getsize(paths[name]) / 1e3:.0f} kB")

    print("5. read back and check")
    readers_back = {name: check_written(paths[name], table, ids) for name, ids in split.items()}
    print(f"  test.parquet summary (label i is {', '.join(f'{i} {a}' for i, a in enumerate(ACTIVITIES))}, "
          f"see classes.json):")
    print("\n".join("    " + line for line in
                    str(readers.inspect(readers_back["test"], label_column="label")).splitlines()))
    batches = readers.SequenceBatches(readers.ParquetSequenceReader(paths["train"]), batch_size=16,
                                      num_classes=len(ACTIVITIES), label_column="label",
                                      sequence_labels=True, align="align_end")
    b = next(iter(batches))
    print(f"  one training batch: features {b.features.shape} ({', '.join(batches.feature_columns)}), "
          f"labels {b.labels.shape}, features mask {b.features_mask.shape}")
    print(f"prepared data set in {out} ({time.perf_counter() - start:.1f} s)")
    return {"out": out, "train": len(split["train"]), "test": len(split["test"])}


if __name__ == "__main__":
    main()
    sys.exit(0)
