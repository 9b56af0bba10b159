"""SCALE-Sim topology files: read one as a synthetic network, write a trace's geometry as one.

SCALE-Sim 3.0.0 (scalesim/topology_utils.py) reads a CSV with one layer per
row, by position, in one of two forms:

    conv: Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels,
          Num Filter, Strides,
    GEMM: Layer, M, N, K,

It skips the header and drops each line's last field, so every line ends with
a comma. A GEMM is an M x K ifmap operand times a K x N filter operand: M
output pixels, N filters, K the window (R * S * C); SCALE-Sim runs it as an
M x K IFMAP with a 1 x K filter, 1 channel and N filters. SCALE-Sim has no
padding (the IFMAP is the padded input), one stride for both axes, no groups
and no dilation, and it runs a row whose name contains 'DP' as a depthwise
conv: one layer per channel, each with Num Filter filters.

Reading (`accelsim synth --topology`): the header's second column tells the
form ('M', or 'IFMAP ...'). Each row becomes the layer SCALE-Sim simulates:
- conv row: conv2d, padding 0, the IFMAP as input; SCALE-Sim rounds a partial
  last window up (ofmap = ceil((H - R + S) / S)), so the input is widened to
  that window's end, (ofmap - 1) * S + R (PyTorch would drop the window);
- 'DP' row: conv2d with groups = Channels and Channels x Num Filter filters;
- GEMM row: linear (K in, N out) if M = 1, else a 1x1 conv2d over an M x 1
  input of K channels (M pixels, K channels each: the same GEMM);
- a 1x1 filter on a 1x1 IFMAP is a linear layer (Channels in, Num Filter out),
  which is how `export` writes one.
What SCALE-Sim's own files hold besides layer rows is read as SCALE-Sim reads
it: blank lines, '#' comments (a whole line, or a row's last field, as the
'#dw' on depthwise rows), section titles (a line of one field), empty columns
after the last and tab-separated lines. A template's placeholder ('B', 'H')
left in a row is named in the error. Not read yet: SCALE-Sim 3's 'Sparsity'
(N:M) column and a 'Batch Size' column.
Densities: the optional extra columns 'Weight density' and 'Activation
density' (fractions; an empty cell takes the network's value) override the
whole network's (`--weight-density`, `--activation-density`; default 1,
dense, as SCALE-Sim).

Writing (`accelsim export --format scalesim`): always the conv form, so that
one file holds conv and linear layers alike (SCALE-Sim reads one form per
run); a linear layer is a 1x1 filter on a 1x1 IFMAP with Channels = inputs.
The IFMAP is the padded input cropped to the last window the layer reads, so
SCALE-Sim computes the trace's output size. A depthwise conv is SCALE-Sim's
own 'DP' row, named NAME_DP unless its name holds 'DP'. Refused, naming the
layer: unequal strides, dilation > 1, groups > 1 other than depthwise (with
split_groups / `--split-groups`: one
row per group, NAME.g0, NAME.g1, ..., which SCALE-Sim runs one after the
other, as accelsim's systolic machine runs groups), a comma in the name (it
would split the row), and 'DP' in the name of a layer that is not depthwise.
With densities, the two extra columns hold the measured densities of the
weights and of the IFMAP as written (padding zeros count). SCALE-Sim 3.0.0
cannot read a file with them (it takes a ninth column for its N:M sparsity
ratio): leave them out for SCALE-Sim, keep them for a round trip.
"""

import math
from pathlib import Path

from ..core.inputs import FORMULA_START, read_text, shown
from ..errors import AccelsimError
from .macs import nonzero_activations, padded_mask
from .synth import MAX_ELEMENTS, MAX_LAYERS, LayerSpec, NetworkSpec
from .trace import MAX_GEOMETRY, MAX_PLANE, Layer, check_layer_name

CONV_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                "Channels", "Num Filter", "Strides")
GEMM_COLUMNS = ("Layer", "M", "N", "K")
DENSITY_COLUMNS = ("Weight density", "Activation density")


# ---------------------------------------------------------------- reading


def _cells(line):
    """SCALE-Sim's split: on every comma (on tabs in a line with none), cells stripped. The
    empty fields after the line's closing comma are dropped, and so is a last field that is
    a comment ('#dw' on depthwise rows): SCALE-Sim drops a line's last field."""
    cells = [cell.strip() for cell in line.split("," if "," in line else "\t")]
    while len(cells) > 1 and (cells[-1] == "" or cells[-1].startswith("#")):
        cells.pop()
    return cells


def _is_note(cells):
    """A line SCALE-Sim's own files hold besides layers: a comment, or a section title (a
    single field: no layer row has fewer than four)."""
    return cells[0].startswith("#") or len(cells) == 1


def _form(header, where):
    """The form its second column names; the form's columns are then read by position, as
    SCALE-Sim reads them."""
    second = header[1].lower() if len(header) > 1 else ""
    form = GEMM_COLUMNS if second == "m" else CONV_COLUMNS if second.startswith("ifmap") else None
    if form is None or len(header) < len(form):
        raise AccelsimError(f"{where}the header must be SCALE-Sim's conv form "
                            f"({', '.join(CONV_COLUMNS)}) or GEMM form ({', '.join(GEMM_COLUMNS)}),"
                            f" then optionally {' and '.join(DENSITY_COLUMNS)}; "
                            f"got {shown(', '.join(header))}")
    return form


def _density_columns(header, form, where):
    """{density column: its index} of the extra columns after the form's."""
    known = {name.lower(): name for name in DENSITY_COLUMNS}
    found = {}
    for index, name in enumerate(header[len(form):], len(form)):
        if name.lower() not in known or known[name.lower()] in found:
            raise AccelsimError(f"{where}column {index + 1} {shown(name)} is unknown or "
                                f"repeated; after the {len(form)} SCALE-Sim columns come only "
                                f"{' and '.join(DENSITY_COLUMNS)}")
        found[known[name.lower()]] = index
    return found


def _integer(text, column, where):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1 and text.isalpha() and text.isupper() and len(text) <= 3:
        raise AccelsimError(f"{where}column '{column}': {shown(text)} is a placeholder of a "
                            "template; put the layer's integer there")
    if value < 1:
        raise AccelsimError(f"{where}column '{column}': {shown(text)} is not an integer >= 1")
    return value


def _density(given, what):
    try:
        value = float(given)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:  # NaN and infinities fail too
        raise AccelsimError(f"{what}: {shown(given)} is not a density in 0..1")
    return value


def _check_size(count, limit, what, where):
    if count > limit:
        raise AccelsimError(f"{where}{what} has {count} elements; the limit is {limit}")


def _conv_layer(name, values, where):
    height, width, rows, cols, channels, filters, stride = values
    if rows > height or cols > width:
        raise AccelsimError(f"{where}filter {rows}x{cols} is larger than the IFMAP "
                            f"{height}x{width}")
    if stride > MAX_GEOMETRY:
        raise AccelsimError(f"{where}stride {stride} is above the limit {MAX_GEOMETRY}")
    depthwise = "DP" in name
    if (height, width, rows, cols) == (1, 1, 1, 1) and not depthwise:
        return _linear_layer(channels, filters, where)
    groups = channels if depthwise else 1
    filters *= groups
    # SCALE-Sim's output size, ceil((H - R + S) / S), and the input its last window ends at.
    height, width = ((-(-(extent - kernel) // stride)) * stride + kernel
                     for extent, kernel in ((height, rows), (width, cols)))
    _check_size(filters * (channels // groups) * rows * cols, MAX_ELEMENTS, "the weight array",
                where)
    _check_size(channels * height * width, MAX_PLANE, "the input plane", where)
    return dict(kind="conv2d", input_shape=[channels, height, width], filters=filters,
                kernel=rows, kernel_width=cols if cols != rows else None, stride=stride,
                groups=groups)


def _linear_layer(inputs, outputs, where):
    _check_size(inputs * outputs, MAX_ELEMENTS, "the weight array", where)
    return dict(kind="linear", in_features=inputs, out_features=outputs)


def _gemm_layer(values, where):
    m, n, k = values
    if m == 1:
        return _linear_layer(k, n, where)
    _check_size(n * k, MAX_ELEMENTS, "the weight array", where)
    _check_size(k * m, MAX_PLANE, "the input plane", where)
    return dict(kind="conv2d", input_shape=[k, m, 1], filters=n, kernel=1)


def read_topology(path, weight_density=None, activation_density=None):
    """NetworkSpec of a SCALE-Sim topology CSV (conv or GEMM form), named after the file.

    weight_density, activation_density: the whole network's (default 1); a layer's
    'Weight density' / 'Activation density' cell overrides them.
    """
    where = f"topology {path}: "
    defaults = {column: 1.0 if value is None else _density(value, f"{where}{option}")
                for column, value, option in (
                    ("Weight density", weight_density, "--weight-density"),
                    ("Activation density", activation_density, "--activation-density"))}
    lines = [(number, _cells(line)) for number, line in
             enumerate(read_text(path, where).splitlines(), 1) if line.strip()]
    lines = lines[:1] + [(number, cells) for number, cells in lines[1:] if not _is_note(cells)]
    if len(lines) < 2:
        raise AccelsimError(f"{where}needs a header line and at least one layer")
    if len(lines) - 1 > MAX_LAYERS:
        raise AccelsimError(f"{where}{len(lines) - 1} layers; the limit is {MAX_LAYERS}")
    header_line, header = lines[0]
    form = _form(header, f"{where}line {header_line}: ")
    density_index = _density_columns(header, form, f"{where}line {header_line}: ")
    layers, first_line = [], {}
    for number, cells in lines[1:]:
        row_where = f"{where}line {number} ({shown(cells[0])}): "
        if not len(form) <= len(cells) <= len(header):
            raise AccelsimError(f"{row_where}{len(cells)} values, expected {len(form)}"
                                + (f" to {len(header)}" if len(header) > len(form) else ""))
        cells += [""] * (len(header) - len(cells))  # density cells left out: none given
        name = cells[0]
        if not name or name in first_line:
            raise AccelsimError(f"{row_where}layer names must be unique and not empty" + (
                f" (line {first_line[name]} has this one)" if name else ""))
        check_layer_name(name, row_where)
        first_line[name] = number
        values = [_integer(text, column, row_where)
                  for text, column in zip(cells[1:len(form)], form[1:])]
        geometry = (_gemm_layer(values, row_where) if form is GEMM_COLUMNS
                    else _conv_layer(name, values, row_where))
        densities = {}
        for column in DENSITY_COLUMNS:
            text = cells[density_index[column]] if column in density_index else ""
            densities[column] = (_density(text, f"{row_where}column '{column}'") if text
                                 else defaults[column])
        layers.append(LayerSpec(name=name, weight_density=densities["Weight density"],
                                activation_density=densities["Activation density"], **geometry))
    return NetworkSpec(model=Path(path).stem, layers=tuple(layers),
                       description=f"SCALE-Sim topology {Path(path).name}")


# ---------------------------------------------------------------- writing


def _refuse(layer, problem):
    raise AccelsimError(f"layer '{layer.name}': {problem}")


def _ifmap_size(layer):
    """(height, width) of the padded input, cropped to the last window the layer reads:
    SCALE-Sim would round a partial last window up, PyTorch (and the trace) drops it."""
    (rows, cols), (stride, _) = layer.kernel, layer.stride
    _, out_h, out_w = layer.output_shape
    return (out_h - 1) * stride + rows, (out_w - 1) * stride + cols


def scalesim_row(layer):
    """SCALE-Sim conv-form row of `layer`: (name, IFMAP height, IFMAP width, filter height,
    filter width, channels, filters, stride). AccelsimError naming the layer where SCALE-Sim
    cannot express it (see the module docstring)."""
    if any(mark in layer.name for mark in ",\r\n"):
        _refuse(layer, "a comma or line break in the name would break SCALE-Sim's row")
    if layer.name.startswith(FORMULA_START):
        _refuse(layer, f"a name starting with {layer.name[0]!r} is run as a formula by a "
                "spreadsheet that opens the CSV; rename the layer")
    depthwise = layer.kind == "conv2d" and layer.weight.shape[1] == 1
    if "DP" in layer.name and not depthwise:
        _refuse(layer, "SCALE-Sim runs a layer whose name contains 'DP' as a depthwise conv, "
                       "and this one is not (groups != channels)")
    if layer.kind == "linear":
        return (layer.name, 1, 1, 1, 1, layer.weight.shape[1], layer.weight.shape[0], 1)
    # A depthwise conv is SCALE-Sim's own DP row (one layer per channel, each with Num
    # Filter filters), named NAME_DP where its name does not already hold 'DP'.
    grouped_depthwise = depthwise and layer.groups > 1
    name = f"{layer.name}_DP" if grouped_depthwise and "DP" not in layer.name else layer.name
    if layer.groups > 1 and not depthwise:
        _refuse(layer, f"groups={layer.groups}: SCALE-Sim has no groups "
                       f"(--split-groups writes one row per group)")
    if layer.stride[0] != layer.stride[1] or layer.dilation != (1, 1):
        _refuse(layer, f"stride {layer.stride} and dilation {layer.dilation}: SCALE-Sim has one "
                       f"stride for both axes and no dilation")
    (rows, cols), stride = layer.kernel, layer.stride[0]
    return (name, *_ifmap_size(layer), rows, cols, layer.input_shape[0],
            layer.weight.shape[0] // layer.groups, stride)


def _groups(layer):
    """One groups=1 layer per group of `layer`, named NAME.g0, NAME.g1, ..."""
    if layer.kind == "linear" or layer.groups == 1 or layer.weight.shape[1] == 1:
        return [layer]  # a depthwise conv stays whole: SCALE-Sim's DP row
    filters, channels = layer.weight.shape[0] // layer.groups, layer.weight.shape[1]
    return [Layer(name=f"{layer.name}.g{g}", kind="conv2d",
                  weight=layer.weight[g * filters:(g + 1) * filters],
                  activations=layer.activations[:, g * channels:(g + 1) * channels],
                  stride=layer.stride, padding=layer.padding, dilation=layer.dilation)
            for g in range(layer.groups)]


def _measured_densities(layer):
    """(weight density, activation density of the IFMAP as written)."""
    active = nonzero_activations(layer.activations)
    if layer.kind == "conv2d":
        height, width = _ifmap_size(layer)
        active = padded_mask(layer, active)[:, :, :height, :width]
    return float(layer.weight_nonzero.mean()), float(active.mean())


def topology_text(trace, densities=False, split_groups=False):
    """The trace's geometry as a SCALE-Sim topology in the conv form (see the module
    docstring); densities=True adds the measured density columns."""
    where = f"trace {trace.path}: " if trace.path else ""
    columns = CONV_COLUMNS + (DENSITY_COLUMNS if densities else ())
    lines = [", ".join(columns) + ","]
    for layer in trace.layers:
        for part in _groups(layer) if split_groups else [layer]:
            try:
                cells = [str(value) for value in scalesim_row(part)]
            except AccelsimError as exc:
                raise AccelsimError(f"{where}{exc}") from None
            if densities:
                cells += [f"{value:.6g}" for value in _measured_densities(part)]
            lines.append(", ".join(cells) + ",")
    return "\n".join(lines) + "\n"
