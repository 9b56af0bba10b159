"""A non-editable install (a wheel in a fresh venv) carries its machine configs: the demo
runs from a directory that is not the repository."""

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

pytestmark = pytest.mark.system


def run(argv, cwd, env=None):
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-3000:])
    return done.stdout


def test_wheel_install_finds_its_configs_and_runs_the_demo_elsewhere(tmp_path):
    # Build from a copy of what the wheel is made of: an in-tree build leaves build/ behind.
    source = tmp_path / "source"
    ignore = shutil.ignore_patterns("__pycache__")
    for name in ("accelsim", "arch_configs"):  # accelsim/arch_configs: the link stays a link
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    # Offline: the build backend and the dependencies are this environment's own.
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", tmp_path / "dist", source], tmp_path)
    wheel = next((tmp_path / "dist").glob("accelsim-*.whl"))
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv], tmp_path)
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", wheel], tmp_path)
    # Then this environment's packages (torch, numpy, ...) behind the venv's own: a path in
    # a .pth file adds the directory, not the .pth files in it (not an editable accelsim).
    packages = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                   tmp_path).strip()
    (Path(packages) / "outer.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run([python, "-c", "import accelsim, accelsim.sim.config as c; "
                 "print(accelsim.__file__); print(c.BUNDLED_CONFIGS)"], elsewhere, env)
    assert all(line.startswith(packages) for line in where.splitlines()), where
    listed = run([venv / "bin" / "accelsim", "config", "--list"], elsewhere, env)
    assert {line.split()[0] for line in listed.splitlines()[:-1]} == {
        path.stem for path in (ROOT / "arch_configs").glob("*.yaml")}
    run([venv / "bin" / "accelsim", "demo", "--quick", "--out", "demo"], elsewhere, env)
    summary = pd.read_csv(elsewhere / "demo" / "summary.csv")
    assert sorted(set(summary["arch"])) == ["cnvlutin", "dense", "eie", "systolic"]
    assert sorted(set(summary["variant"])) == ["dense", "jp", "wp"]
