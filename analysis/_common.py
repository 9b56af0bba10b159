"""Helpers shared by the analysis scripts: table output and figure saving."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import matplotlib.pyplot as plt  # noqa: E402

from accelsim.report.plots import STYLE, save_figure, variant_color  # noqa: E402,F401

plt.rcParams.update(STYLE)  # a script, not a library: every figure it makes in the package's style


def write_table(table, out_dir, stem):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{stem}.csv"
    table.to_csv(path, index=False)
    return path
