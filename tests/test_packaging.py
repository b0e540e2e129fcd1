"""The split between the data side and the model side holds."""

import subprocess
import sys


def test_importing_readers_does_not_import_torch():
    code = "import sys, readers; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_public_api_lists_are_sorted():
    import readers
    import seqkit
    import seqkit.layers
    for mod in (readers, seqkit, seqkit.layers):
        assert list(mod.__all__) == sorted(mod.__all__), mod.__name__
        for name in mod.__all__:
            assert hasattr(mod, name), f"{mod.__name__}.{name}"
