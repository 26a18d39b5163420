"""The suite's closing line (scripts/summary.sh): it never says "0 failed" for a run that
failed, counts every skip, and exits with the run's status. Fed synthetic logs."""

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "summary.sh"

CARGO_OK = """running 3 tests
test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s
test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.1s
"""
# A second binary that crashed (SIGSEGV): cargo prints no "test result" line for it.
CARGO_CRASH = CARGO_OK + "error: test failed, to rerun pass `--test webm`\n" \
    "Caused by:\n  process didn't exit successfully (signal: 11, SIGSEGV)\n"
PYTEST_OK = "....s\nSKIPPED [1] tests/test_browser.py:37: chromium not found\n" \
    "========== 4 passed, 1 skipped in 3.21s ==========\n"


def run(tmp_path, cargo, pytest, skips, cargo_status, py_status):
    files = []
    for name, text in (("cargo", cargo), ("pytest", pytest), ("skips", skips)):
        f = tmp_path / name
        f.write_text(text)
        files.append(str(f))
    r = subprocess.run(["bash", str(SCRIPT), *files, str(cargo_status), str(py_status)],
                       capture_output=True, text=True)
    return r.returncode, r.stdout.strip().splitlines()[-1], r.stdout


def test_a_clean_run_counts_passes_and_skips(tmp_path):
    skips = "SKIP corpus_decodes: the corpus (set AURALIS_CORPUS ...)\n"
    code, total, out = run(tmp_path, CARGO_OK, PYTEST_OK, skips, 0, 0)
    assert (code, total) == (0, "total: 9 passed, 0 failed, 2 skipped")
    assert "SKIP corpus_decodes" in out and "chromium not found" in out


def test_a_crashed_test_binary_is_a_failure_not_nothing(tmp_path):
    code, total, _ = run(tmp_path, CARGO_CRASH, PYTEST_OK, "", 101, 0)
    assert code == 101 and total == "total: 9 passed, 1 failed, 1 skipped"


def test_a_python_build_failure_is_a_failure(tmp_path):
    code, total, _ = run(tmp_path, CARGO_OK, "", "", 0, 1)
    assert code == 1 and total == "total: 5 passed, 1 failed, 0 skipped"


def test_failures_are_counted_as_reported(tmp_path):
    cargo = CARGO_OK.replace("3 passed; 0 failed", "1 passed; 2 failed")
    pytest = "========== 1 failed, 3 passed, 1 error in 2.0s ==========\n"
    code, total, _ = run(tmp_path, cargo, pytest, "", 101, 1)
    assert code == 101 and total == "total: 6 passed, 4 failed, 0 skipped"
