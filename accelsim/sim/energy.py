"""Prices counted actions, and the time a layer takes, with the config's energy figures.

Rules (also stated in arch_configs/energy/45nm.yaml):
- Arithmetic: log-log interpolation in operand width between the nearest two
  table points of the same op; outside them, the slope of the nearest two
  (a single point scales linearly with width).
- A MAC is one multiplication at max(weight, activation) bits plus one
  addition at the accumulator width, integer or float per `number_format`;
  a gated MAC costs nothing.
- On-chip buffers: an action is one access of one bank, priced at that
  bank's read or write energy. The per-bank figures come from the config or,
  by default, from the CACTI table the energy file names (`memory_table`),
  log-log interpolated in capacity and width between the four surrounding
  table points; outside the table the config must give its own figures.
  A `regfile` buffer costs bank_width_bits x the rf_access energy per bit and
  its leakage is part of the machine's logic static power.
- Register files not declared as buffers (queues), codebooks and DRAM:
  proportional to the bits moved, from the rf_access and dram_access entries.
- Static energy: every bank's leakage, and the machine's logic static and
  clock power (`static_power`), times the layer's elapsed time (compute and
  memory stalls); with `memory.clock_gating_when_stalled` the logic static
  and clock power stop while the machine waits for DRAM, and only the
  leakage runs on.
"""

import csv
import functools
import math
from pathlib import Path

from ..errors import AccelsimError, ConfigError

MEMORY_COLUMNS = ("read_pj", "write_pj", "leakage_mw", "access_ns", "area_mm2")
# Device flavour of the config -> the CACTI table's `device` column, per technology.
CACTI_DEVICE = {"sram": "{}", "edram": "comm-dram/{}"}


def _loglog(points, x):
    """Interpolate y(x) through (x, y) points in log-log space."""
    points = sorted(points)
    if len(points) == 1:
        (x0, y0), = points
        return y0 * x / x0
    for (x0, y0), (x1, y1) in zip(points, points[1:]):  # noqa: B007 (the pair it stops at)
        if x <= x1 or (x1, y1) == points[-1]:
            break
    if x0 == x1 or y0 == 0 or y1 == 0:
        return y0
    slope = math.log(y1 / y0) / math.log(x1 / x0)
    return y0 * (x / x0) ** slope


@functools.lru_cache(maxsize=8)
def _read_memory_table(path, mtime_ns, size):
    """{(technology, device): {(capacity_bytes, width_bits): {column: value}}}; keyed by mtime
    and size so an edited table is read again."""
    table = {}
    try:
        with open(path, newline="") as handle:
            for line, row in enumerate(csv.DictReader(handle), start=2):
                try:
                    key = (int(row["capacity_bytes"]), int(row["width_bits"]))
                    values = {c: float(row[c]) for c in MEMORY_COLUMNS}
                except (KeyError, TypeError, ValueError):
                    raise ConfigError(f"memory table {path}: line {line} lacks a number in one of "
                                      f"capacity_bytes, width_bits, {', '.join(MEMORY_COLUMNS)}"
                                      ) from None
                if not all(math.isfinite(v) and v >= 0 for v in values.values()):
                    raise ConfigError(f"memory table {path}: line {line} has a negative or "
                                      f"non-finite figure")
                table.setdefault((row["memory"], row["device"]), {})[key] = values
    except OSError as exc:
        raise ConfigError(f"memory table {path}: cannot read it ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"memory table {path}: not a CSV text file ({exc})") from None
    return table


def memory_table(path):
    path = Path(path)
    try:
        stat = path.stat()
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        shown_path = str(path).replace("\x00", "\\x00")
        raise ConfigError(f"memory table {shown_path}: file not found") from None
    if not path.is_file():
        raise ConfigError(f"memory table {path}: not a file")
    return _read_memory_table(str(path), stat.st_mtime_ns, stat.st_size)


def _bracket(grid, x):
    """The two grid values around x (the same one twice on a grid point), or None outside."""
    if x < grid[0] or x > grid[-1]:
        return None
    upper = next(g for g in grid if g >= x)
    lower = max(g for g in grid if g <= x)
    return lower, upper


def bank_figures(table_path, technology, device, bank_bytes, width_bits):
    """Per-bank read/write pJ, leakage mW, access ns and area mm² of one bank, log-log
    interpolated in capacity and width; raises LookupError (with the table's range) outside."""
    name = (technology, CACTI_DEVICE[technology].format(device))
    points = memory_table(table_path).get(name)
    if not points:
        raise LookupError(f"{Path(table_path).name} has no {name[0]} rows for device {name[1]}")
    capacities = sorted({c for c, _ in points})
    widths = sorted({w for _, w in points})
    around = _bracket(capacities, bank_bytes), _bracket(widths, width_bits)
    corners = None if None in around else [(c, w) for c in around[0] for w in around[1]]
    if corners is None or any(corner not in points for corner in corners):
        raise LookupError(
            f"{bank_bytes / 1024:g} KiB x {width_bits} bits is outside {Path(table_path).name} "
            f"({name[0]}, {name[1]}: {capacities[0] / 1024:g}..{capacities[-1] / 1024:g} KiB, "
            f"{widths[0]}..{widths[-1]} bits, not every shape)")
    (c0, c1), (w0, w1) = around
    figures = {}
    for column in MEMORY_COLUMNS:
        # Bilinear in log(capacity), log(width), on log(value): exact at table points.
        at_width = [_loglog([(w0, points[(c, w0)][column]), (w1, points[(c, w1)][column])],
                            width_bits) for c in (c0, c1)]
        figures[column] = _loglog([(c0, at_width[0]), (c1, at_width[1])], bank_bytes)
    exact = (c0, w0) == (c1, w1)
    return figures, exact


class EnergyModel:
    def __init__(self, arch):
        self.arch = arch
        self.table = arch.energy
        bits = arch.arithmetic
        kind = "int" if bits.number_format == "fixed" else "float"
        self.mac_pj = (self.op_pj(f"{kind}_mult", max(bits.weight_bits, bits.activation_bits))
                       + self.op_pj(f"{kind}_add", bits.accumulator_bits))
        self.rf_pj_per_bit = self.op_pj("rf_access", 1)
        self.dram_pj_per_bit = self.op_pj("dram_access", 1)
        self.bank_pj = {}
        for name, buffer in arch.memory.buffers.items():
            if buffer.technology == "regfile":
                self.bank_pj[name] = (buffer.bank_width_bits * self.rf_pj_per_bit,) * 2
            else:
                self.bank_pj[name] = (buffer.read_pj, buffer.write_pj)
        self.static_mw = arch.static_power.mw * arch.instances(arch.static_power.per)
        self.leakage_mw = sum(
            buffer.leakage_mw * buffer.banks * arch.instances(buffer.per)
            for buffer in arch.memory.buffers.values() if buffer.technology != "regfile")

    def op_pj(self, op, bits):
        points = [(e.bits, e.pj) for e in self.table.ops if e.op == op]
        if not points:
            raise ConfigError(f"energy table '{self.table.name}' has no entry for op '{op}' "
                              f"(needed by arch '{self.arch.name}')")
        return _loglog(points, bits)

    def static_pj(self, cycles, stall_cycles=0):
        """Leakage of every bank over `cycles` of the clock, and the logic static/clock power
        over them too, or only over the cycles not stalled when the clock is gated then."""
        clocked = cycles - stall_cycles if self.arch.memory.clock_gating_when_stalled else cycles
        # mW x µs = nJ.
        return {"leakage": self.leakage_mw * cycles / self.arch.clock_mhz * 1e3,
                "logic_static": self.static_mw * clocked / self.arch.clock_mhz * 1e3}

    def price(self, actions, cycles, stall_cycles=0):
        """{component: pJ} for counted actions (see machines/counts.py) over `cycles`, of
        which `stall_cycles` wait for DRAM."""
        energy = {"mac": 0.0, "rf": 0.0, "dram": 0.0}
        for action, amount in actions.items():
            kind, _, name = action.partition(":")
            if kind in ("read", "write") and name in self.bank_pj:
                component = f"buffer_{name}"
                energy[component] = energy.get(component, 0.0) + amount * self.bank_pj[name][
                    kind == "write"]
            elif action == "mac":
                energy["mac"] += amount * self.mac_pj
            elif action == "mac_gated":
                pass  # a gated multiplier does not switch
            elif action == "rf":
                energy["rf"] += amount * self.rf_pj_per_bit
            elif action == "codebook":
                energy["rf"] += amount * self.arch.arithmetic.weight_bits * self.rf_pj_per_bit
            elif action in ("dram_read", "dram_write"):
                energy["dram"] += amount * self.dram_pj_per_bit
            else:
                raise AccelsimError(
                    f"arch '{self.arch.name}': machine '{self.arch.machine}' counted action "
                    f"{action!r}, which the energy model does not price (known: mac, mac_gated, "
                    f"rf, codebook, dram_read, dram_write, read:/write:<buffer> for buffers "
                    f"{', '.join(self.bank_pj)})")
        energy.update(self.static_pj(cycles, stall_cycles))
        return energy
