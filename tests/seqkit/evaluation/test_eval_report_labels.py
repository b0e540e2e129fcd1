"""How reports name classes (never mistaken for indices) and sequence keys (short, whole directories dropped)."""

import pytest

from seqkit.evaluation._report_labels import class_labels, short_keys

QUOTE_NOTE = "Class names are numbers, so they are shown in quotes; an unquoted number is a class index."


@pytest.mark.parametrize("names, labels, note", [
    (["0", "1", "2"], ["0", "1", "2"], ""),                                           # the default: indices
    (["walk", "run", "sit"], ["walk", "run", "sit"], ""),
    (["1", "2", "3", "4", "5", "6"], ['"1"', '"2"', '"3"', '"4"', '"5"', '"6"'], QUOTE_NOTE),   # 1..C: shifted
    (["1", "0"], ['"1"', '"0"'], QUOTE_NOTE),                                         # indices, swapped
    (["10", "20", "30"], ['"10"', '"20"', '"30"'], QUOTE_NOTE),
    (["cat", " 2.5 "], ['"cat"', '" 2.5 "'], QUOTE_NOTE),                             # one number is enough
    (["-1", "1e3"], ['"-1"', '"1e3"'], QUOTE_NOTE),
    (["a", "b", "a"], ["a #0", "b", "a #2"], "Some classes share a name; #i after a name is the class index."),
    (["2", "2"], ['"2" #0', '"2" #1'], QUOTE_NOTE + " Some classes share a name; #i after a name is the class index."),
    (["v1", "3rd"], ["v1", "3rd"], ""),                                               # not numbers
])
def test_class_labels(names, labels, note):
    assert class_labels(names) == (labels, note)


def test_short_keys_drop_shared_directories_only():
    keys = [f"/home/alice/data/synthetic_control/test/features/{i}.csv" for i in (38, 113, 7)]
    assert short_keys(keys) == ("/home/alice/data/synthetic_control/test/features/", ["38.csv", "113.csv", "7.csv"])
    # the shared text "run-" is part of a name: only the directory goes
    assert short_keys(["/d/run-1/a.csv", "/d/run-2/b.csv"]) == ("/d/", ["run-1/a.csv", "run-2/b.csv"])
    assert short_keys(["C:\\data\\x\\1.csv", "C:\\data\\y\\2.csv"]) == ("C:\\data\\", ["x\\1.csv", "y\\2.csv"])
    assert short_keys(["series_17", "series_18"]) == ("", ["series_17", "series_18"])     # ids: unchanged
    assert short_keys(["/one/file.parquet"]) == ("/one/", ["file.parquet"])               # one key: its name
    assert short_keys([]) == ("", [])


def test_short_keys_never_empty_a_key():
    assert short_keys(["a/", "a/b"]) == ("", ["a/", "a/b"])
    assert short_keys(["x/y/", "x/y/z"]) == ("x/", ["y/", "y/z"])
    assert short_keys(["dir/"]) == ("", ["dir/"])


def test_short_keys_cut_long_names_in_the_middle():
    name = "session_" + "x" * 60 + "_take_07.csv"
    prefix, (short,) = short_keys(["/data/" + name])
    assert prefix == "/data/" and len(short) == 48 and short.startswith("session_x") and short.endswith("_take_07.csv")
    assert "\u2026" in short
    assert short_keys(["k" * 30], limit=10)[1] == ["kkk\u2026kkkkkk"]
