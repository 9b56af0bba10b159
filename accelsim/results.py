"""Results tables on disk: CSV or Parquet, written atomically, with a provenance sidecar.

`results.csv` comes with `results.csv.meta.json`: the accelsim version, the
command, every resolved machine config and every trace's manifest fields, so
a table can always be traced back to its inputs.
"""

import io
import json
from pathlib import Path

import pandas as pd

from .errors import AccelsimError
from .files import atomic_file, write_text_atomic

FORMATS = (".csv", ".parquet")


def sidecar_path(path):
    return Path(f"{path}.meta.json")


def provenance(archs, traces, command=""):
    from . import __version__
    return {
        "accelsim_version": __version__,
        "command": command,
        "archs": {arch.name: arch.to_dict() for arch in archs},
        "traces": [
            {"path": str(t.path) if t.path else None, "model": t.model, "variant": t.variant,
             "dataset": t.dataset, "samples": t.samples, "source": t.source,
             "metadata": t.metadata}
            for t in traces
        ],
    }


def check_results_path(path):
    path = Path(path)
    if path.suffix not in FORMATS:
        raise AccelsimError(f"results file {path}: suffix must be one of {', '.join(FORMATS)}")
    return path


def write_results(table, path, meta):
    path = check_results_path(path)
    if path.suffix == ".csv":
        buffer = io.StringIO()
        table.to_csv(buffer, index=False)
        write_text_atomic(path, buffer.getvalue())
    else:
        with atomic_file(path) as handle:
            table.to_parquet(handle, index=False)
    write_text_atomic(sidecar_path(path), json.dumps(meta, indent=2, default=str) + "\n")
    return path


def read_results(path):
    path = Path(path)
    if not path.is_file():
        raise AccelsimError(f"results file {path}: not found")
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
