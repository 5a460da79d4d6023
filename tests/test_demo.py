"""`fastmlp demo`, run as a user would."""

import re
import subprocess
import sys


def test_demo_reaches_95_percent_on_held_out_digits():
    run = subprocess.run([sys.executable, "-m", "fastmlp", "demo"], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "total parameters: 235,146" in out
    assert len(re.findall(r"^epoch +\d+ .*train .*val ", out, flags=re.M)) == 15
    accuracy = float(re.search(r"test accuracy: ([0-9.]+) on 2,000", out).group(1))
    assert accuracy >= 0.95
