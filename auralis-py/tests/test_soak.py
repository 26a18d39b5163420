"""A short run of the soak script (examples/python/soak.py): the real server in a child process,
bad files, a file rewritten and the cache made unwritable halfway, sampled chunks checked
against fresh renders. The ten-minute run and its figures are in RELIABILITY.md."""

import json
import subprocess
import sys
from pathlib import Path

SOAK = Path(__file__).resolve().parents[2] / "examples" / "python" / "soak.py"


def test_a_short_soak_serves_no_5xx_no_mismatch_and_keeps_every_connection(tmp_path):
    out = tmp_path / "soak.json"
    run = subprocess.run(
        [sys.executable, str(SOAK), "--minutes", "0.25", "--clients", "6", "--out", str(out),
         "--no-rss-check"],
        capture_output=True, text=True, timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert result["requests"] > 50
    assert result["mismatches"] == [] and result["server_5xx"] == [] and result["failures"] == []
    assert result["verified"] > 0
    statuses = result["statuses"]
    # Bad input was asked for and answered with 4xx: unknown tracks 404, bad files and bad
    # parameters 422, indices past the end 416.
    for code in ("404", "416", "422"):
        assert statuses.get(code, 0) > 0, statuses
    # Each kind of bad request (each is asked at least once, first) got its code.
    by_kind = result["by_kind"]
    for kind, code in (("bad_track", "404"), ("past_end", "416"), ("bad_preset", "422"),
                       ("bad_intensity", "422"), ("bad_file", "422")):
        assert by_kind.get(kind, {}).get(code, 0) > 0, (kind, by_kind.get(kind))
    assert "halfway: cache directory" in run.stdout
