"""docs/migrating.md: every seqkit name it writes exists, and it covers both seed pages.

Conventions the doc follows (stated at its top), and what is checked here:

- inline code spans beginning with ``seqkit.``, ``readers.`` or ``torch.``, or
  with a public name of seqkit (``__all__`` of ``seqkit``, ``seqkit.layers``,
  ``seqkit.evaluation``, ``readers``), must resolve by ``getattr``:
  ``seqkit.layers.LSTM``, ``Sequential.rnn_time_step``, ``readers.Align.ALIGN_END``;
- every call written in such a span must fit the callee's signature
  (``LSTM(gate_activation="sigmoid")``; arguments may be left out, unknown
  keywords or too many positional arguments fail), calls nested in its
  arguments included;
- a call to a seqkit layer, ``Sequential``, ``seqkit.options`` and the other
  seqkit constructors is also *run*, with the span's literal values and a
  small stand-in for each placeholder (``n_out``, ``layer``...), so option
  values such as ``mode="average"`` or ``weight_init="xavier_normal"`` are
  real; ``align=`` values must be ``readers.Align`` values;
- bare capitalised names in a table's ``seqkit`` column must be public names;
- the ```python snippets run (the Keras pair only where Keras is installed);
- every DL4J and Keras name in the fixed lists below, taken from the two
  seed pages, appears in a code span.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
from pathlib import Path

import pytest

import readers
import seqkit
import seqkit.evaluation
import seqkit.layers
import torch

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "migrating.md"

# Classes, builder calls, enum values and methods on the DL4J recurrent layers page.
DL4J_NAMES = [
    # layers and wrappers
    "LSTM", "GravesLSTM", "SimpleRnn", "Bidirectional", "LastTimeStep", "RnnOutputLayer",
    "RnnLossLayer", "OutputLayer", "DenseLayer", "ConvolutionLayer", "SubsamplingLayer",
    "Mode.ADD", "Mode.MUL", "Mode.AVERAGE", "Mode.CONCAT", "PoolingType.MAX",
    # builder parameters
    ".nIn", ".nOut", ".activation", ".gateActivationFunction", ".forgetGateBiasInit",
    ".weightInit", ".l1", ".l2", ".dropOut", ".kernelSize", "Activation.TANH",
    "Activation.HARDSIGMOID", "Activation.SOFTMAX", "LossFunction.MCXENT",
    "LossFunction.NEGATIVELOGLIKELIHOOD",
    # network configuration
    "NeuralNetConfiguration", "MultiLayerConfiguration", "MultiLayerNetwork", ".seed",
    ".dataType", "DataType.FLOAT", ".updater", "Adam", "WeightInit.XAVIER", ".list()", ".layer",
    ".setInputType", "InputType.convolutional", ".inputPreProcessor", "ScoreIterationListener",
    "setListeners", "model.init()",
    # preprocessors
    "CnnToRnnPreProcessor", "RnnToFeedForwardPreProcessor", "FeedForwardToRnnPreProcessor",
    "CnnToFeedForwardPreProcessor",
    # data
    "CSVSequenceRecordReader", "SequenceRecordReader", "NumberedFileInputSplit",
    "SequenceRecordReaderDataSetIterator", "AlignmentMode.ALIGN_END", "AlignmentMode.ALIGN_START",
    "DataSet", "DataSetIterator", "INDArray", "Nd4j.create",
    # TBPTT
    "BackpropType.Standard", "BackpropType.TruncatedBPTT", ".tBPTTLength", ".backpropType",
    # step by step, training, evaluation
    "rnnTimeStep", "rnnClearPreviousState", "rnnGetPreviousState", "rnnSetPreviousState",
    "fit(DataSetIterator)", "output(INDArray)", "evaluate(DataSetIterator)", "Evaluation",
    "evalTimeSeries", "stats()",
]

# The thirteen layers on the Keras 3 recurrent layers index, their arguments,
# call arguments and methods.
KERAS_NAMES = [
    "LSTM", "LSTMCell", "GRU", "GRUCell", "SimpleRNN", "SimpleRNNCell", "TimeDistributed",
    "Bidirectional", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "RNN", "StackedRNNCells",
    "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
    "recurrent_initializer", "bias_initializer", "unit_forget_bias", "kernel_regularizer",
    "recurrent_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint",
    "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout", "seed",
    "return_sequences", "return_state", "go_backwards", "stateful", "unroll", "use_cudnn",
    "reset_after", "zero_output_for_mask", "implementation", "filters", "kernel_size", "strides",
    "padding", "data_format", "dilation_rate", "cell", "cells", "layer", "merge_mode", "weights",
    "backward_layer",
    "mask", "training", "initial_state",
    "reset_state()", "reset_states()", "get_weights()", "set_weights(w)", "get_config()",
    "from_config()", "get_initial_state", "state_size", "output_size", "compute_mask()",
]

PUBLIC: dict[str, object] = {}
for _module in (readers, seqkit.evaluation, seqkit.layers, seqkit):
    for _name in _module.__all__:
        PUBLIC[_name] = getattr(_module, _name)
ROOTS = {"seqkit": seqkit, "readers": readers, "torch": torch}

# Stand-ins for placeholders (unknown names, ``...``) and for required
# arguments a span leaves out, by parameter name.
SAMPLES = {
    "n_out": lambda: 4, "units": lambda: 4, "filters": lambda: 4, "n_in": lambda: 4,
    "kernel_size": lambda: 3, "num_classes": lambda: 3,
    "layer": lambda: seqkit.layers.LSTM(4), "cell": lambda: seqkit.layers.LSTMCell(4),
    "cells": lambda: [seqkit.layers.LSTMCell(4), seqkit.layers.LSTMCell(3)],
    "layers": lambda: [seqkit.layers.RnnOutput(2)],
}


class _Placeholder:
    """A value the doc does not give (a name such as ``n_out``, or ``...``)."""


# ---------------------------------------------------------------------- parsing the doc
def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def _prose(text: str) -> str:
    """The doc without its fenced code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def _spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", _prose(text))


def _table_column_spans(text: str, header: str) -> list[str]:
    """Code spans in the column titled ``header`` of every table."""
    out, column = [], None
    for line in _prose(text).splitlines():
        if not line.startswith("|"):
            column = None
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if column is None:
            column = cells.index(header) if header in cells else -1
            continue
        if column >= 0 and column < len(cells) and not set(cells[column]) <= set("-: "):
            out.extend(re.findall(r"`([^`]+)`", cells[column]))
    return out


def _head(span: str) -> str | None:
    """The leading dotted name of a span, when it is one the test checks."""
    m = re.match(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*", span)
    if not m:
        return None
    first = m.group(0).split(".")[0]
    return m.group(0) if first in ROOTS or first in PUBLIC else None


def _resolve(dotted: str):
    parts = dotted.split(".")
    obj = ROOTS[parts[0]] if parts[0] in ROOTS else PUBLIC[parts[0]]
    for part in parts[1:]:
        obj = getattr(obj, part)
    return obj


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _checked_target(node: ast.AST) -> str | None:
    name = _dotted(node)
    return name if name is not None and _head(name) == name else None


def _parse(span: str) -> ast.AST | None:
    try:
        return ast.parse(span, mode="eval").body
    except SyntaxError:
        return None


# ---------------------------------------------------------------------- evaluating a call
def _is_method(dotted: str, obj) -> bool:
    owner = _resolve(dotted.rsplit(".", 1)[0]) if "." in dotted else None
    return inspect.isclass(owner) and inspect.isfunction(obj)


def _value(node: ast.AST):
    """The value a span writes, or a _Placeholder when it is not a concrete value."""
    if any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in ast.walk(node)):
        return _Placeholder()
    if isinstance(node, ast.Call):
        target = _checked_target(node.func)
        return _run_call(node, target) if target else _Placeholder()
    target = _checked_target(node)
    if target is not None:
        return _resolve(target)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_value(n) for n in node.elts]
        if any(isinstance(i, _Placeholder) for i in items):
            return _Placeholder()
        return items if isinstance(node, ast.List) else tuple(items)
    try:
        return ast.literal_eval(node)
    except ValueError:
        return _Placeholder()


def _run_call(node: ast.Call, dotted: str):
    """Run a call to a seqkit constructor with stand-ins; _Placeholder when it cannot."""
    fn = _resolve(dotted)
    runnable = dotted.split(".")[0] != "readers" and not _is_method(dotted, fn) and (
        inspect.isclass(fn) or fn is seqkit.options or dotted.startswith(("InputType.", "seqkit.InputType.")))
    if not runnable:
        return _Placeholder()
    sig = inspect.signature(fn)
    bound = sig.bind_partial(*[_value(a) for a in node.args],
                             **{k.arg: _value(k.value) for k in node.keywords})
    args = dict(bound.arguments)
    for name, param in sig.parameters.items():
        missing = name not in args and param.default is inspect.Parameter.empty and param.kind not in (
            inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        if missing or isinstance(args.get(name), _Placeholder):
            if name not in SAMPLES:
                return _Placeholder()
            args[name] = SAMPLES[name]()
    for name, param in sig.parameters.items():          # placeholders inside *args / **kwargs
        value = args.get(name)
        items = value.values() if isinstance(value, dict) else value if isinstance(value, tuple) else ()
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD) and any(
                isinstance(v, _Placeholder) for v in items):
            return _Placeholder()
    call = inspect.BoundArguments(sig, {name: args[name] for name in sig.parameters if name in args})
    return fn(*call.args, **call.kwargs)


def _check_span(span: str) -> None:
    _resolve(_head(span))                                # AttributeError: no such name
    node = _parse(span)
    if node is None:
        return
    for call in [n for n in ast.walk(node) if isinstance(n, ast.Call)]:
        dotted = _checked_target(call.func)
        if dotted is None:
            continue
        fn = _resolve(dotted)
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):                    # a builtin without a signature
            continue
        args = [object() for _ in call.args]
        kwargs = {k.arg: object() for k in call.keywords if k.arg is not None}
        if _is_method(dotted, fn):
            args.insert(0, object())                       # self
        sig.bind_partial(*args, **kwargs)                  # TypeError: a wrong signature
        for k in call.keywords:
            if k.arg == "align" and isinstance(k.value, ast.Constant):
                readers.Align(k.value.value)
    if isinstance(node, ast.Call) and _checked_target(node.func):
        _run_call(node, _checked_target(node.func))


# ---------------------------------------------------------------------- the tests
def test_doc_exists_and_states_its_convention():
    text = _text()
    assert "tests/docs/test_migrating.py" in text
    assert "## Deeplearning4j" in text and "## Keras 3" in text
    assert "## Behaviour differences" in text and "## Side by side" in text


def test_every_seqkit_name_resolves_and_every_call_fits():
    spans = [s for s in _spans(_text()) if _head(s) is not None]
    assert len(spans) > 150, "the doc should name seqkit's API in checkable code spans"
    failures = []
    for span in dict.fromkeys(spans):
        try:
            _check_span(span)
        except Exception as err:  # noqa: BLE001 - report every bad span at once
            failures.append(f"`{span}`: {type(err).__name__}: {err}")
    assert not failures, "names or calls in docs/migrating.md that do not work:\n" + "\n".join(failures)


def test_tables_are_well_formed():
    """Every row has its header's number of cells (a bare ``|`` in a code span would split one)."""
    bad, width = [], None
    for number, line in enumerate(_text().splitlines(), 1):
        if not line.startswith("|"):
            width = None
            continue
        cells = len(re.split(r"(?<!\\)\|", line.strip().strip("|")))
        if width is None:
            width = cells
        elif cells != width:
            bad.append(f"line {number}: {cells} cells, the header has {width}")
    assert not bad, "\n".join(bad)


def test_seqkit_column_names_are_public():
    bad = []
    for span in _table_column_spans(_text(), "seqkit"):
        for word in re.findall(r"(?<![\w.\"'])([A-Z]\w+)\b(?![\"'])", span):
            if word not in PUBLIC and word not in ("True", "False", "None"):
                bad.append(f"`{span}`: {word}")
    assert not bad, "seqkit column names that seqkit does not export:\n" + "\n".join(bad)


@pytest.mark.parametrize("name", DL4J_NAMES)
def test_dl4j_name_is_covered(name):
    assert any(name in span for span in _spans(_text())), f"DL4J {name!r} is not in docs/migrating.md"


@pytest.mark.parametrize("name", KERAS_NAMES)
def test_keras_name_is_covered(name):
    pattern = re.compile(r"(?<!\w)" + re.escape(name) + r"(?!\w)")
    assert any(pattern.search(span) for span in _spans(_text())), \
        f"Keras {name!r} is not in docs/migrating.md"


def _snippet_sections() -> dict[str, list[str]]:
    """Python code blocks of the side-by-side section, grouped by their ``###`` heading."""
    text = _text().split("## Side by side", 1)[1]
    out: dict[str, list[str]] = {}
    for part in re.split(r"^### ", text, flags=re.M)[1:]:
        title = part.splitlines()[0].strip()
        blocks = re.findall(r"^```python\n(.*?)^```", part, flags=re.S | re.M)
        if blocks:
            out[title] = blocks
    return out


def test_there_are_two_side_by_side_examples():
    text = _text().split("## Side by side", 1)[1]
    assert text.count("```java") == 1 and len(_snippet_sections()) == 2


@pytest.mark.parametrize("title", sorted(_snippet_sections()))
def test_snippet_runs(title, monkeypatch, capsys):
    blocks = _snippet_sections()[title]
    if any(re.search(r"^import keras", b, flags=re.M) for b in blocks):
        os.environ.setdefault("KERAS_BACKEND", "torch")
        pytest.importorskip("keras")
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "migrating_snippet"}
    for block in blocks:
        exec(compile(block, f"docs/migrating.md ({title})", "exec"), namespace)  # noqa: S102
