"""The HTML report in a real headless Chromium: it renders, every image decodes, the console stays clean,
table cells stay on one line."""

import re
import shutil
import subprocess

import numpy as np
import pytest

from seqkit import Evaluation

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (CI installs Debian's chromium)")]

# Added to a test copy only: the report itself carries no script.
PROBE = """<script>
window.addEventListener('load', () => {
  const images = Array.from(document.images);
  const ok = images.every(img => img.complete && img.naturalWidth > 0 && img.naturalHeight > 0);
  document.body.setAttribute('data-probe', images.length + ':' + (ok ? 'ok' : 'broken') + ':' +
                             document.querySelectorAll('table').length);
});
</script>"""


def _chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _console_problems(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def test_report_renders_with_images_and_no_console_errors(tmp_path, evaluations, expected_images):
    report = evaluations["Evaluation"].report(tmp_path / "report.html")
    html = report.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    run = _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    found = re.search(r'data-probe="(\d+):(\w+):(\d+)"', run.stdout)
    assert found, f"the probe did not run; chromium said:\n{run.stderr[-3000:]}"
    images, state, tables = found.groups()
    assert int(images) == expected_images["Evaluation"] and state == "ok" and int(tables) >= 6
    assert _console_problems(run.stderr) == []

    shot = tmp_path / "report.png"
    run = _chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}", report.as_uri())
    assert shot.exists() and shot.stat().st_size > 50_000, run.stderr[-3000:]
    assert _console_problems(run.stderr) == []


def test_console_check_catches_a_broken_page(tmp_path):
    """The console check is not vacuous: a page with a broken image and an exception fails it."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
                    '<img src="data:image/png;base64,iVBORw0KGgo=">' + PROBE +
                    "<script>throw new Error('boom')</script></body></html>", encoding="utf-8")
    run = _chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    assert 'data-probe="1:broken:0"' in run.stdout
    assert any("Uncaught Error: boom" in line for line in _console_problems(run.stderr))


# Added to a test copy only: marks the page with how many table cells (and which first) run over one line.
LINES_PROBE = """<script>
window.addEventListener('load', () => {
  const wrapped = Array.from(document.querySelectorAll('td, th')).filter(cell => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size > 1;
  });
  document.body.setAttribute('data-lines', wrapped.length + ':' + (wrapped.length ? wrapped[0].textContent : ''));
});
</script>"""


def test_names_and_keys_stay_on_one_line_in_a_narrow_window(tmp_path):
    """At 640 px the per-class table cannot sit beside its plot nor fit the page: it scrolls, names stay whole."""
    names = ["Normal", "Cyclic", "Increasing trend", "Decreasing trend", "Upward shift", "Downward shift"]
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, 40)
    logits = (rng.normal(size=(40, 6)) + 2 * np.eye(6)[y]).astype(np.float32)
    keys = [f"/home/alice/experiments/synthetic_control/test/features/{i}_recording_session.csv" for i in range(40)]
    ev = Evaluation(labels=names).eval(np.eye(6, dtype=np.float32)[y], logits, keys=keys,
                                       lengths=rng.integers(29, 362, 40))
    html = ev.report(tmp_path / "report.html").read_text(encoding="utf-8")
    probe = tmp_path / "lines.html"
    probe.write_text(html.replace("</body>", LINES_PROBE + "</body>"), encoding="utf-8")
    run = _chromium(tmp_path, "--window-size=640,2000", "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    found = re.search(r'data-lines="(\d+):([^"]*)"', run.stdout)
    assert found, f"the probe did not run; chromium said:\n{run.stderr[-3000:]}"
    assert found.groups() == ("0", ""), f"{found.group(1)} cells wrap, the first: {found.group(2)!r}"
