"""ruff (lint, import order) over the code and mypy over the public modules, as configured in
pyproject.toml: the test command runs them, so CI does."""

import subprocess
import sys

import pytest
from conftest import ROOT


@pytest.mark.parametrize("tool, argv", [
    ("ruff", ["check", "accelsim", "tests", "benchmarks", "analysis", "docs"]),
    ("mypy", []),  # the files listed under [tool.mypy]
])
def test_clean(tool, argv):
    pytest.importorskip(tool)
    done = subprocess.run([sys.executable, "-m", tool, *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
