"""The README's Python example runs as written (with fewer epochs) and its Quick start is two commands."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_second():
    block = re.search(r"## Quick start\n\n```bash\n(.*?)```", README, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text().splitlines()[-1]


def test_python_example_is_twenty_lines_and_runs(tmp_path):
    code = re.search(r"## Python in 20 lines\n\n```python\n(.*?)```", README, re.S).group(1)
    assert len(code.strip().splitlines()) <= 20
    assert "epochs=30" in code
    smoke = code.replace("epochs=30", "epochs=1").replace('"report.html"', repr(str(tmp_path / "report.html")))
    script = tmp_path / "readme_example.py"
    script.write_text(smoke)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # The example reads datasets/ relative to the repository root.
    out = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "Evaluation Metrics" in out.stdout and "Confusion Matrix" in out.stdout
    assert (tmp_path / "report.html").stat().st_size > 1000
