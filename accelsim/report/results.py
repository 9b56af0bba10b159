"""Results tables on disk: CSV or Parquet, written atomically, with a provenance sidecar.

`results.csv` comes with `results.csv.meta.json`: the accelsim version, the
command, every resolved machine config and every trace's manifest fields, so
a table can always be traced back to its inputs. The two files cannot be
replaced in one step, so the sidecar records the table's sha256 and
`read_results` refuses a pair that does not match (a reader that came
between the two renames, or a table copied without its sidecar's run).
"""

import hashlib
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from ..core.files import atomic_file, can_write_in, sha256_of_file, write_text_atomic
from ..core.inputs import FORMULA_START, load_json
from ..defaults import VERSION
from ..errors import AccelsimError

FORMATS = (".csv", ".parquet")


def sidecar_path(path):
    return Path(f"{path}.meta.json")


def provenance(archs, traces, command=""):
    return {
        "accelsim_version": VERSION,
        "command": command,
        "archs": {arch.name: arch.to_dict() for arch in archs},
        "traces": [
            {"path": str(t.path) if t.path else None, "model": t.model, "variant": t.variant,
             "dataset": t.dataset, "samples": t.samples, "source": t.source,
             "metadata": t.metadata}
            for t in traces
        ],
    }


def check_output_directory(path, what):
    """Fail now, before any work, if files cannot be written in directory `path`."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AccelsimError(f"{what} {path}: is a file, not a directory")
    return _check_writable_ancestor(path, what, shown_as=path)


def check_output_file(path, what):
    """Fail now, before any work, if `path` cannot be written as a file."""
    path = Path(path)
    if path.is_dir():
        raise AccelsimError(f"{what} {path}: is a directory")
    _check_writable_ancestor(path.parent, what, shown_as=path)
    return path


def _check_writable_ancestor(path, what, shown_as):
    ancestor = path
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise AccelsimError(f"{what} {shown_as}: {ancestor} is a file, not a directory")
    if not can_write_in(ancestor):
        raise AccelsimError(f"{what} {shown_as}: {ancestor} is not writable")
    return path


# Figures carry their writer in their own metadata (PNG tEXt "Software", SVG dc:creator),
# written by report.plots.save_figure; tables and topologies carry it in their sidecar.
FIGURE_MARK = f"accelsim {VERSION}"
_FIGURE_SIGNS = {".png": re.compile(rb"tEXtSoftware\x00accelsim "),
                 ".svg": re.compile(rb"<dc:creator>\s*<cc:Agent>\s*<dc:title>accelsim ")}


def written_by_accelsim(path):
    """Whether the file at `path` is one accelsim wrote: a figure with accelsim's mark in
    its metadata, or a table or topology whose sidecar records its sha256 (an edited one
    is the user's now)."""
    path = Path(path)
    if path.suffix in _FIGURE_SIGNS:
        try:
            with open(path, "rb") as handle:
                head = handle.read(1 << 16)
        except OSError:
            return False
        return bool(_FIGURE_SIGNS[path.suffix].search(head))
    try:
        meta = json.loads(sidecar_path(path).read_text())
        recorded = meta.get("table_sha256") if isinstance(meta, dict) else None
        return "accelsim_version" in meta and recorded == sha256_of_file(path)
    except (OSError, ValueError, AttributeError, TypeError):
        return False


def check_replaceable(path, what):
    """`path` is new, or a file accelsim wrote (so replacing it loses nothing of the user's)."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not written_by_accelsim(path)):
        raise AccelsimError(f"{what} {path}: exists and accelsim did not write it; remove it "
                            "or choose another path")
    return path


def check_figure_directory(path, what="plot directory"):
    """Before any work: figures can be written in `path`, and every figure already there is
    accelsim's own (a rerun replaces those; a user's own figure is never touched)."""
    path = check_output_directory(path, what)
    if path.is_dir():
        for existing in sorted(path.iterdir()):
            if existing.suffix in _FIGURE_SIGNS:
                check_replaceable(existing, f"{what} {path}: figure")
    return path


def check_results_path(path):
    """Before any work: `path` can be written as a table and replaces none of the user's files."""
    path = Path(path)
    if path.suffix not in FORMATS:
        raise AccelsimError(f"results file {path}: suffix must be one of {', '.join(FORMATS)}")
    check_output_file(path, "results file")
    return check_replaceable(path, "results file")


def write_marked(path, data, meta):
    """Write `data` (bytes) to `path` with its provenance sidecar, the mark that lets a later
    run replace it."""
    meta = dict(meta, table_sha256=hashlib.sha256(data).hexdigest())
    meta.setdefault("accelsim_version", VERSION)
    # The sidecar lands just before the table: a kill between the two leaves no table
    # without its sidecar, at worst an old table whose sidecar no longer matches, which
    # read_results refuses and a rerun will not replace (it cannot tell it from a table
    # the user edited): the error says to remove it.
    with atomic_file(path) as handle:
        handle.write(data)
        write_text_atomic(sidecar_path(path), json.dumps(meta, indent=2, default=str) + "\n")
    return Path(path)


# CSV text, so that a table reads back as written and a spreadsheet runs nothing:
# - a cell that a spreadsheet would run as a formula (first character = + - @ tab CR;
#   OWASP's "CSV injection") gets a leading apostrophe; so does one that starts with an
#   apostrophe: reading strips exactly one leading apostrophe. Names are legal however
#   they start (a PyTorch module may be called "=x"); only the CSV form escapes them.
# - the sidecar lists the text columns (text_columns): they are read as text, so a model
#   named "0" or a layer named "NA" stays text. An empty cell is a missing value, as CSV
#   has it: an empty string comes back missing (names are never empty).


ESCAPED_START = (*FORMULA_START, "'")


def _text_columns(table):
    return [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]


def _escape_text(table, undo=False):
    table = table.copy()
    for column in _text_columns(table):
        if undo:
            values = [v[1:] if isinstance(v, str) and v.startswith("'") else v
                      for v in table[column]]
        else:
            values = ["'" + v if isinstance(v, str) and v.startswith(ESCAPED_START)
                      else v for v in table[column]]
        table[column] = pd.Series(values, index=table.index, dtype=object)
    return table


def write_results(table, path, meta):
    path = check_results_path(path)
    buffer = io.BytesIO()
    if path.suffix == ".csv":
        buffer.write(_escape_text(table).to_csv(index=False).encode())
        meta = dict(meta, text_escaped=True, text_columns=[str(c) for c in _text_columns(table)])
    else:
        table.to_parquet(buffer, index=False)
    return write_marked(path, buffer.getvalue(), meta)


def read_results(path: Union[str, Path], required: Sequence[str] = ()) -> pd.DataFrame:
    """A results table; checked against its sidecar when there is one, and for `required`
    columns."""
    path = Path(path)
    where = f"results file {path}: "
    if path.suffix not in FORMATS:
        raise AccelsimError(f"{where}suffix must be one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise AccelsimError(f"{where}{'not a file' if path.exists() else 'not found'}")
    data = path.read_bytes()
    sidecar = sidecar_path(path)
    meta = {}
    if sidecar.is_file():
        meta = load_json(sidecar, f"{where}sidecar {sidecar.name}: ")
        recorded = meta.get("table_sha256") if isinstance(meta, dict) else None
        if recorded is not None and recorded != hashlib.sha256(data).hexdigest():
            raise AccelsimError(f"{where}its sidecar {sidecar.name} describes another table "
                                "(written by another run); rerun the command that wrote it")
    meta = meta if isinstance(meta, dict) else {}
    text = meta.get("text_columns") if meta.get("text_escaped") is True else None
    text = text if isinstance(text, list) and all(isinstance(c, str) for c in text) else None
    try:
        if path.suffix == ".parquet":
            table = pd.read_parquet(io.BytesIO(data))
        elif text is None:  # a table of the user's, or an older accelsim's
            table = pd.read_csv(io.BytesIO(data))
        else:
            header = pd.read_csv(io.BytesIO(data), nrows=0).columns
            table = pd.read_csv(io.BytesIO(data), dtype={c: object for c in text if c in header},
                                keep_default_na=False, na_values={c: [""] for c in header})
    except Exception as exc:  # noqa: BLE001 - pandas/pyarrow raise many types for bad bytes
        raise AccelsimError(f"{where}cannot be read as {path.suffix[1:]} "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                            ) from None
    if text is not None:
        table = _escape_text(table, undo=True)
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise AccelsimError(f"{where}missing columns {', '.join(missing)} "
                            "(not an accelsim results table?)")
    return table


def write_part(table, path):
    """One finished point of a resumable study (sweep, pareto), as parquet, atomically."""
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    with atomic_file(path) as handle:
        handle.write(buffer.getvalue())


def check_figures(table, columns, nonnegative, where, flags=()):
    """Each of `columns` holds finite numbers (not text that looks like them, and true/false
    only in `flags`), those also in `nonnegative` none below 0."""
    for column in columns:
        values = table[column]
        if not pd.api.types.is_numeric_dtype(values) \
                or (pd.api.types.is_bool_dtype(values) and column not in flags) \
                or not np.isfinite(values.astype(float)).all() \
                or (column in nonnegative and (values < 0).any()):
            raise AccelsimError(f"{where}column {column} must hold finite numbers"
                                + (" >= 0" if column in nonnegative else ""))


def read_part(path, required=(), check=None):
    """A finished point back. One that cannot be read, lacks a `required` column, holds no
    rows or fails `check(table, where)` is an error that says how to redo it (the tool never
    deletes it on its own)."""
    try:
        table = read_results(path, required)
        if table.empty:
            raise AccelsimError(f"results file {path}: holds no rows")
        if check is not None:
            check(table, f"results file {path}: ")
        return table
    except AccelsimError as exc:
        raise AccelsimError(f"{exc}; delete it and rerun to recompute that point") from None
