"""Trace format v1: what a layer multiplies, stored so that any tool can write it.

A trace is a directory holding `manifest.json` and one `.npy` file per array
(the weights as used, the input activations as multiplied). The format is
documented in traces/README.md; this module is its reference reader and
writer. The reader checks every file against the manifest (existence, size,
shape, dtype, sha256) and every layer's geometry before returning anything,
so a simulator never sees a truncated or inconsistent trace.
"""

import contextlib
import json
import math
import os
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from ..core.files import atomic_directory, sha256_of_file
from ..core.inputs import load_json, shown
from ..defaults import TOTAL_ROW
from ..errors import TraceError
from .macs import nonzero_mask

FORMAT_NAME = "accelsim-trace"
FORMAT_VERSION = 1
KINDS = ("conv2d", "linear")
DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32")
MANIFEST = "manifest.json"
# Limits, checked before any array is allocated (traces/README.md states them): a stride,
# padding or dilation at most MAX_GEOMETRY; an array dimension at least 1; a padded input
# plane (C x (H + 2 pad) x (W + 2 pad), one sample) at most MAX_PLANE elements.
MAX_GEOMETRY = 1024
MAX_PLANE = 2**28
# An array up to READ_WHOLE_BYTES is read into memory when the trace is loaded; a larger one
# is memory-mapped, and a map holds an open file for as long as its array lives (Python's
# mmap keeps its own descriptor). A trace of many small layers so needs no descriptors, and
# one of many large ones is checked against the open-file limit before any is mapped.
READ_WHOLE_BYTES = 4 * 2**20


def _pair(value, what):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value, value)
    pair = tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 for v in pair):
        raise ValueError(f"{what} must be an integer or a pair of integers, got {shown(value)}")
    return tuple(int(v) for v in pair)


@dataclass
class Layer:
    """One conv2d or linear layer: its weights as used and its input activations.

    conv2d: weight K x C/groups x R x S, activations N x C x H x W.
    linear: weight out x in, activations N x in (stride/padding/... are unused).
    """

    name: str
    kind: str
    weight: np.ndarray
    activations: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        self.stride = _pair(self.stride, "stride")
        self.padding = _pair(self.padding, "padding")
        self.dilation = _pair(self.dilation, "dilation")
        if not isinstance(self.groups, (int, np.integer)) or isinstance(self.groups, bool):
            raise TypeError(f"groups must be an integer, got {shown(self.groups)}")
        self.groups = int(self.groups)

    @property
    def samples(self) -> int:
        return int(self.activations.shape[0])

    @cached_property
    def weight_nonzero(self) -> np.ndarray:
        """Boolean mask of the non-zero weights, built once: every machine and sample uses it."""
        return nonzero_mask(self.weight)

    @property
    def kernel(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.weight.shape[2:]) if self.kind == "conv2d" else (1, 1)

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.activations.shape[1:])

    @property
    def output_shape(self) -> tuple[int, ...]:
        """(K, P, Q) for conv2d, (out,) for linear."""
        if self.kind == "linear":
            return (int(self.weight.shape[0]),)
        _, height, width = self.input_shape
        sizes = [
            (extent + 2 * pad - dil * (kern - 1) - 1) // step + 1
            for extent, pad, dil, kern, step in zip(
                (height, width), self.padding, self.dilation, self.kernel, self.stride
            )
        ]
        return (int(self.weight.shape[0]), *sizes)


@dataclass
class Trace:
    """A network's layers in order plus where the trace came from."""

    layers: list[Layer]
    model: str = "unknown"
    variant: str = "unknown"
    dataset: str = "unknown"
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Optional[Path] = None
    # The layers are separate benchmarks (a suite such as EIE's Table III), not one network:
    # each is simulated alone, with its own on-chip allocation and its input and output in DRAM.
    independent_layers: bool = False

    @property
    def samples(self) -> int:
        return self.layers[0].samples if self.layers else 0

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers: {', '.join(l.name for l in self.layers)}")


def check_layer_name(name, where=""):
    """The one rule for a layer's name, wherever it enters (manifest, capture, topology,
    spec, a Layer built in Python): 1 to 200 characters, none of them a control character
    or line break, not the results' total
    row's name. A name that a spreadsheet would run as a formula is escaped where a CSV is
    written (report.results), not refused: it is a legal module name."""
    if not isinstance(name, str):
        raise TraceError(f"{where}layer name must be text, got {shown(name)}")
    if not 1 <= len(name) <= 200:
        raise TraceError(f"{where}layer name {shown(name)} must be 1 to 200 characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") for ch in name):
        raise TraceError(f"{where}layer name {shown(name)} holds a line break, a control "
                         "character or half a surrogate pair")
    if name == TOTAL_ROW:
        raise TraceError(f"{where}layer name '{TOTAL_ROW}' is reserved for the results' total "
                         "row; rename the layer")
    return name


def check_layer(layer, where="", index=0):
    """One Layer, loaded or built in Python: its type, name, arrays and geometry."""
    if not isinstance(layer, Layer):
        raise TypeError(f"{where}layer #{index} is a {type(layer).__name__}, not a Layer")
    check_layer_name(layer.name, f"{where}layer #{index}: ")
    for what in ("weight", "activations"):
        if not isinstance(getattr(layer, what), np.ndarray):
            raise TraceError(f"{where}layer '{layer.name}': {what} must be a NumPy array, "
                             f"got {type(getattr(layer, what)).__name__}")
    check_layer_geometry(layer, where)
    return layer


def check_trace(trace, where=""):
    """The one check of a Trace, whether loaded or built in Python (save_trace, simulate and
    compare call it): its fields' types, every layer's name, arrays and geometry, unique
    names and one sample count."""
    if not isinstance(trace, Trace):
        raise TypeError(f"{where}a Trace was expected, got {type(trace).__name__}")
    for key in ("model", "variant", "dataset", "source"):
        if not isinstance(getattr(trace, key), str):
            raise TraceError(f"{where}{key} must be text, got {shown(getattr(trace, key))}")
    if not isinstance(trace.metadata, dict):
        raise TraceError(f"{where}metadata must be a dict, got {shown(trace.metadata)}")
    if not isinstance(trace.independent_layers, bool):
        raise TraceError(f"{where}independent_layers must be True or False, got "
                         f"{shown(trace.independent_layers)}")
    if not isinstance(trace.layers, (list, tuple)) or not trace.layers:
        raise TraceError(f"{where}a trace needs a non-empty list of layers, got "
                         f"{shown(trace.layers)}")
    for index, layer in enumerate(trace.layers):
        check_layer(layer, where, index)
    names = [layer.name for layer in trace.layers]
    if len(set(names)) != len(names):
        raise TraceError(f"{where}layer names must be unique, got {shown(names)}")
    samples = sorted({layer.samples for layer in trace.layers})
    if len(samples) != 1:
        raise TraceError(f"{where}every layer must hold the same number of samples, got {samples}")
    return trace


def check_layer_geometry(layer, where=""):
    """Raise TraceError unless the layer's arrays and geometry agree."""

    def fail(problem):
        raise TraceError(f"{where}layer '{layer.name}': {problem}")

    if layer.kind not in KINDS:
        fail(f"kind {layer.kind!r} is not one of {', '.join(KINDS)}")
    weight, acts = layer.weight, layer.activations
    if layer.kind == "linear":
        if weight.ndim != 2 or acts.ndim != 2:
            fail(f"linear layer needs weight (out, in) and activations (N, in); "
                 f"got weight {tuple(weight.shape)}, activations {tuple(acts.shape)}")
        if weight.shape[1] != acts.shape[1]:
            fail(f"weight has {weight.shape[1]} inputs but activations have {acts.shape[1]}")
        if layer.groups != 1:
            fail(f"groups={layer.groups}: a linear layer has no groups")
    else:
        if weight.ndim != 4 or acts.ndim != 4:
            fail(f"conv2d layer needs weight (K, C/groups, R, S) and activations (N, C, H, W); "
                 f"got weight {tuple(weight.shape)}, activations {tuple(acts.shape)}")
        if layer.groups < 1 or acts.shape[1] % layer.groups or weight.shape[0] % layer.groups:
            fail(f"groups={layer.groups} must divide input channels {acts.shape[1]} "
                 f"and filters {weight.shape[0]}")
        if weight.shape[1] * layer.groups != acts.shape[1]:
            fail(f"weight has {weight.shape[1]} channels per group x {layer.groups} groups "
                 f"but activations have {acts.shape[1]} channels")
        if min(layer.stride) < 1 or min(layer.dilation) < 1 or min(layer.padding) < 0 or max(
                *layer.stride, *layer.dilation, *layer.padding) > MAX_GEOMETRY:
            fail(f"stride {layer.stride} and dilation {layer.dilation} must be in 1..{MAX_GEOMETRY}, "
                 f"padding {layer.padding} in 0..{MAX_GEOMETRY}")
        channels, height, width = layer.input_shape
        plane = channels * (height + 2 * layer.padding[0]) * (width + 2 * layer.padding[1])
        if plane > MAX_PLANE:
            fail(f"the padded input plane has {plane} elements; the limit is {MAX_PLANE}")
        if min(layer.output_shape[1:]) < 1:
            fail(f"kernel {layer.kernel} does not fit input {layer.input_shape[1:]} "
                 f"with padding {layer.padding} and dilation {layer.dilation}")
    if acts.shape[0] < 1:
        fail("activations hold no sample")
    for what, array in (("weight", weight), ("activations", acts)):
        if 0 in array.shape:
            fail(f"{what} shape {tuple(array.shape)} has an empty dimension")
    for what, array in (("weight", weight), ("activations", acts)):
        if array.dtype.name not in DTYPES:
            fail(f"{what} dtype {array.dtype.name} is not one of {', '.join(DTYPES)}")


def _array_entry(array, file_name, directory):
    np.save(directory / file_name, np.ascontiguousarray(array), allow_pickle=False)
    return {
        "file": file_name,
        "dtype": array.dtype.name,
        "shape": [int(v) for v in array.shape],
        "sha256": sha256_of_file(directory / file_name),
    }


def _layer_entry(layer, index, directory):
    stem = f"{index:03d}_{_safe_name(layer.name)}"
    entry = {
        "name": layer.name,
        "kind": layer.kind,
        "input_shape": list(layer.input_shape),
        "output_shape": list(layer.output_shape),
    }
    if layer.kind == "conv2d":
        entry.update(
            kernel=list(layer.kernel),
            stride=list(layer.stride),
            padding=list(layer.padding),
            dilation=list(layer.dilation),
            groups=layer.groups,
        )
    entry["weight"] = _array_entry(layer.weight, f"{stem}.weight.npy", directory)
    entry["activations"] = _array_entry(layer.activations, f"{stem}.activations.npy", directory)
    return entry


def _safe_name(name):
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def _named_files(value):
    """Every "file" value anywhere under a manifest's entries."""
    if isinstance(value, dict):
        named = {value["file"]} if isinstance(value.get("file"), str) else set()
        return named.union(*map(_named_files, value.values()))
    if isinstance(value, list):
        return set().union(*map(_named_files, value))
    return set()


def is_trace_directory(path):
    """Whether `path` is an accelsim trace and nothing else (for --force): a manifest that
    declares one, and no file it does not name, so that replacing it loses nothing of the
    user's (an export or a checkpoint put inside it, say)."""
    path = Path(path)
    try:
        manifest = load_json(path / MANIFEST, "", TraceError)
    except TraceError:
        return False
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        return False
    present = {entry.name for entry in path.iterdir()}
    return present <= _named_files(manifest.get("layers")) | {MANIFEST}


def save_trace(trace: Trace, path: Union[str, Path], overwrite: bool = False) -> Path:
    """Write `trace` to directory `path` atomically and return the path."""
    check_trace(trace)
    path = Path(path)
    with atomic_directory(path, overwrite=overwrite, replaceable=is_trace_directory) as staging:
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "model": trace.model,
            "variant": trace.variant,
            "dataset": trace.dataset,
            "samples": trace.samples,
            "source": trace.source,
            "metadata": trace.metadata,
            "independent_layers": trace.independent_layers,
            "layers": [_layer_entry(layer, i, staging) for i, layer in enumerate(trace.layers)],
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return path


# ---------------------------------------------------------------- reading


def _require(mapping, key, kind, where):
    if key not in mapping:
        raise TraceError(f"{where}missing key '{key}'")
    value = mapping[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise TraceError(f"{where}key '{key}' must be {kind.__name__ if isinstance(kind, type) else kind}, "
                         f"got {shown(value)}")
    if kind is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise TraceError(f"{where}key '{key}' is not valid Unicode: {shown(value)}") from None
    return value


def _open_array(directory, entry, what, where, verify):
    where = f"{where}{what}: "
    file_name = _require(entry, "file", str, where)
    dtype = _require(entry, "dtype", str, where)
    shape = tuple(_require(entry, "shape", list, where))
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in shape):
        raise TraceError(f"{where}shape {shown(list(shape))} must list integers >= 1")
    if dtype not in DTYPES:
        raise TraceError(f"{where}dtype {shown(dtype)} is not one of {', '.join(DTYPES)}")
    file_path = directory / file_name
    if Path(file_name).name != file_name or not file_path.is_file():
        raise TraceError(f"{where}file {shown(file_name)} is missing")
    if file_path.is_symlink() and file_path.resolve().parent != directory.resolve():
        raise TraceError(f"{where}file '{file_name}' is a link to outside the trace directory")
    try:
        with open(file_path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            header = read_header(handle)
            data_offset = handle.tell()
    except Exception as exc:  # noqa: BLE001 - numpy's header parser raises whatever its tokenizer does
        raise TraceError(f"{where}file '{file_name}' is not a valid .npy file "
                         f"({type(exc).__name__}: {shown(str(exc))})") from None
    file_shape, fortran, file_dtype = header
    if file_dtype.byteorder == ">" or (file_dtype.byteorder == "=" and sys.byteorder == "big"):
        raise TraceError(f"{where}file '{file_name}' is big-endian; traces are little-endian")
    if tuple(file_shape) != shape or file_dtype.name != dtype or fortran:
        raise TraceError(f"{where}file '{file_name}' holds {file_dtype.name}{list(file_shape)}, "
                         f"manifest says {dtype}{list(shape)}")
    expected_bytes = data_offset + math.prod(shape) * file_dtype.itemsize
    actual_bytes = file_path.stat().st_size
    if actual_bytes != expected_bytes:
        raise TraceError(f"{where}file '{file_name}' is truncated or padded "
                         f"({actual_bytes} bytes, expected {expected_bytes})")
    if verify:
        expected_sha = _require(entry, "sha256", str, where)
        actual_sha = sha256_of_file(file_path)
        if actual_sha != expected_sha:
            raise TraceError(f"{where}checksum mismatch in '{file_name}' "
                             f"(sha256 {actual_sha[:12]}..., manifest {expected_sha[:12]}...)")
    if actual_bytes - data_offset <= READ_WHOLE_BYTES:
        return np.load(file_path, allow_pickle=False)
    return np.load(file_path, mmap_mode="r", allow_pickle=False)


def _entry_bytes(entry):
    """An array entry's size as the manifest states it; 0 where it states none that reads
    (the entry's own check names the problem later)."""
    shape, dtype = entry.get("shape"), entry.get("dtype")
    if not isinstance(shape, list) or dtype not in DTYPES or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in shape):
        return 0
    return math.prod(shape) * np.dtype(dtype).itemsize


def _make_room_for_maps(entries, where):
    """Before any array is mapped: the maps of this trace fit the process's limit on open
    files, raised up to its hard limit where needed."""
    import resource

    maps = sum(_entry_bytes(entry.get(what)) > READ_WHOLE_BYTES
               for entry in entries if isinstance(entry, dict)
               for what in ("weight", "activations") if isinstance(entry.get(what), dict))
    if not maps:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        in_use = len(os.listdir("/proc/self/fd"))
    except OSError:  # no /proc: assume a few dozen
        in_use = 64
    needed = maps + in_use + 64
    if soft != resource.RLIM_INFINITY and needed > soft:
        with contextlib.suppress(ValueError, OSError):
            raised = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        if needed > soft:
            raise TraceError(f"{where}{maps} arrays over {READ_WHOLE_BYTES // 2**20} MiB are "
                             f"memory-mapped, one open file each, and {needed} open files are "
                             f"needed; the limit is {soft} (ulimit -n): raise it")


def _read_layer(directory, entry, index, verify, trace_where):
    if not isinstance(entry, dict):
        raise TraceError(f"{trace_where}layer #{index} is not an object")
    name = check_layer_name(_require(entry, "name", str, f"{trace_where}layer #{index}: "),
                            f"{trace_where}layer #{index}: ")
    where = f"{trace_where}layer '{name}': "
    kind = _require(entry, "kind", str, where)
    if kind not in KINDS:
        raise TraceError(f"{where}kind {shown(kind)} is not one of {', '.join(KINDS)}")
    weight = _open_array(directory, _require(entry, "weight", dict, where), "weight", where, verify)
    acts = _open_array(directory, _require(entry, "activations", dict, where), "activations", where, verify)
    geometry = {}
    if kind == "conv2d":
        for key in ("stride", "padding", "dilation"):
            geometry[key] = _require(entry, key, list, where)
        geometry["groups"] = _require(entry, "groups", int, where)
    try:
        layer = Layer(name=name, kind=kind, weight=weight, activations=acts, **geometry)
    except (TypeError, ValueError) as exc:
        raise TraceError(f"{where}bad geometry ({exc})") from None
    check_layer_geometry(layer, trace_where)
    declared = {
        "input_shape": list(layer.input_shape),
        "output_shape": list(layer.output_shape),
    }
    if kind == "conv2d":
        declared["kernel"] = list(layer.kernel)
    for key, derived in declared.items():
        if _require(entry, key, list, where) != derived:
            raise TraceError(f"{where}manifest {key} {entry[key]} is inconsistent with the arrays "
                             f"and geometry, which give {derived}")
    return layer


def load_trace(path: Union[str, Path], verify: bool = True) -> Trace:
    """Read and validate a trace directory; arrays over READ_WHOLE_BYTES are memory-mapped,
    smaller ones read.

    verify=False skips the sha256 pass (sizes, shapes and geometry are still checked).
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"a trace is read from a directory path, got {shown(path)}")
    directory = Path(path)
    where = f"trace {directory}: "
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise TraceError(f"{where}no {MANIFEST} (not a trace directory, or an interrupted write)")
    manifest = load_json(manifest_path, f"{where}{MANIFEST}: ", TraceError)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise TraceError(f"{where}{MANIFEST} does not declare format '{FORMAT_NAME}'")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise TraceError(f"{where}unknown format_version {shown(version)} (this accelsim reads {FORMAT_VERSION})")
    entries = _require(manifest, "layers", list, where)
    if not entries:
        raise TraceError(f"{where}the manifest lists no layer")
    _make_room_for_maps(entries, where)
    layers = [_read_layer(directory, entry, i, verify, where) for i, entry in enumerate(entries)]
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        raise TraceError(f"{where}layer names are not unique: {shown(names)}")
    samples = _require(manifest, "samples", int, where)
    for layer in layers:
        if layer.samples != samples:
            raise TraceError(f"{where}layer '{layer.name}': {layer.samples} samples, manifest says {samples}")
    metadata = manifest.get("metadata", {})
    if not isinstance(metadata, dict):
        raise TraceError(f"{where}key 'metadata' must be an object")
    independent = manifest.get("independent_layers", False)
    if not isinstance(independent, bool):
        raise TraceError(f"{where}key 'independent_layers' must be true or false")
    return check_trace(Trace(
        layers=layers,
        **{key: _require(manifest, key, str, where) if key in manifest else default
           for key, default in (("model", "unknown"), ("variant", "unknown"),
                                ("dataset", "unknown"), ("source", ""))},
        metadata=metadata,
        path=directory,
        independent_layers=independent,
    ), where)
