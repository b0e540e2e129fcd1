"""The README's Python example and `seqkit` command lines run as written (with fewer epochs); its Quick
start is two commands, and `make demo` installs no test tools."""

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


def _cli_block() -> list[str]:
    """The command lines of the README's `seqkit` command block, comments removed."""
    block = re.search(r"## The `seqkit` command\n.*?```bash\n(.*?)```", README, re.S).group(1)
    return [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines() if line.strip()]


def test_quick_start_says_how_to_reach_the_seqkit_command():
    quick = README[README.index("## Quick start"):README.index("## Python in 20 lines")]
    assert "source .venv/bin/activate" in quick and ".venv/bin/seqkit" in quick
    assert _cli_block()[0] == "source .venv/bin/activate"


def test_cli_block_runs_as_written_after_the_quick_start(tmp_path):
    """Every line of the README's `seqkit` block, run by a shell in a fresh folder holding the
    bundled data, with the virtual environment's `seqkit` on the PATH as `source .venv/bin/activate`
    puts it. Two lines are shortened for time, as the Python example is: train runs 1 epoch, the demo
    its --quick form."""
    lines = _cli_block()
    assert lines[0] == "source .venv/bin/activate"
    commands = lines[1:]
    assert [c.split()[1] for c in commands] == ["inspect", "convert", "train", "evaluate", "predict", "demo"]
    for name in ("datasets", "examples"):
        (tmp_path / name).symlink_to(ROOT / name)
    bin_dir = Path(sys.executable).parent                 # the venv's bin, where `make demo` puts seqkit
    assert (bin_dir / "seqkit").exists(), f"no seqkit console script in {bin_dir}"
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(bin_dir.parent),
               OMP_NUM_THREADS="1")
    for command in commands:
        run = command + (" --epochs 1" if command.split()[1] == "train" else
                         " --quick" if command.split()[1] == "demo" else "")
        done = subprocess.run(run, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
        if command.split()[1] == "inspect":
            assert "sequences       320" in done.stdout and "label column    label" in done.stdout
    for made in ("varlen.parquet", "runs/sc/model.seqkit", "report.html", "predictions.csv",
                 "runs/demo/report.html"):
        assert (tmp_path / made).is_file(), made


def test_make_demo_installs_no_test_tools_and_make_test_adds_them(tmp_path):
    """`make -n` shows what each target would run in a new environment."""
    def plan(target: str) -> str:
        done = subprocess.run(["make", "-n", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout
    def extras(text: str) -> list:
        return re.findall(r'-e "\.\[([^\]]*)\]"', text)
    demo = plan("demo")
    assert extras(demo) == ["report"]                     # seqkit, torch and the report's plots only
    assert f"{tmp_path / 'venv'}/bin/seqkit demo" in demo.splitlines()
    assert extras(plan("test")) == ["report", "test,report"]
