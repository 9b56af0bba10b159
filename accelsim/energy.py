"""Prices counted actions with the config's energy table.

Rules (also stated in arch_configs/energy/*.yaml):
- Arithmetic: log-log interpolation in operand width between the nearest two
  table points of the same op; outside them, the slope of the nearest two
  (a single point scales linearly with width).
- A MAC is one multiplication at max(weight, activation) bits plus one
  addition at the accumulator width, integer or float per `number_format`;
  a gated MAC costs nothing.
- SRAM: energy per bit is log-log interpolated in capacity between the table
  points (each divided by its width); outside their range it scales as
  capacity**sram_capacity_exponent. An access costs width x energy per bit,
  so actions are counted in bits.
- Register files, queues, codebooks and DRAM: proportional to bits moved,
  from the rf_access and dram_access entries.
"""

import math

from .errors import ConfigError


def _loglog(points, x, edge_exponent=None):
    """Interpolate y(x) through (x, y) points in log-log space."""
    points = sorted(points)
    if len(points) == 1:
        (x0, y0), = points
        return y0 * (x / x0) ** (1.0 if edge_exponent is None else edge_exponent)
    if edge_exponent is not None and (x < points[0][0] or x > points[-1][0]):
        x0, y0 = points[0] if x < points[0][0] else points[-1]
        return y0 * (x / x0) ** edge_exponent
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if x <= x1 or (x1, y1) == points[-1]:
            break
    if x0 == x1 or y0 == 0 or y1 == 0:
        return y0
    slope = math.log(y1 / y0) / math.log(x1 / x0)
    return y0 * (x / x0) ** slope


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
        # Energy per bit at each table capacity; points at one capacity are averaged so
        # the curve stays a function.
        merged = {}
        for entry in self.table.sram:
            merged.setdefault(entry.capacity_kb, []).append(entry.pj / entry.width_bits)
        self.sram_curve = [(c, sum(v) / len(v)) for c, v in merged.items()]

    def op_pj(self, op, bits):
        points = [(e.bits, e.pj) for e in self.table.ops if e.op == op]
        if not points:
            raise ConfigError(f"energy table '{self.table.name}' has no entry for op '{op}' "
                              f"(needed by arch '{self.arch.name}')")
        per_bit = op in ("rf_access", "dram_access")
        return _loglog(points, bits, 1.0 if per_bit else None)

    def sram_pj_per_bit(self, capacity_kb):
        return _loglog(self.sram_curve, capacity_kb, self.table.sram_capacity_exponent)

    def price(self, actions):
        """{component: pJ} for a dict of counted actions (see machines/counts.py)."""
        buffers = self.arch.memory.buffers
        energy = {"mac": actions.get("mac", 0) * self.mac_pj, "rf": 0.0, "dram": 0.0}
        for action, amount in actions.items():
            if action.startswith(("sram_read:", "sram_write:")):
                name = action.split(":", 1)[1]
                component = f"sram_{name}"
                energy[component] = energy.get(component, 0.0) + amount * self.sram_pj_per_bit(
                    buffers[name].capacity_kb)
            elif action == "rf":
                energy["rf"] += amount * self.rf_pj_per_bit
            elif action == "codebook":
                energy["rf"] += amount * self.arch.arithmetic.weight_bits * self.rf_pj_per_bit
            elif action == "dram":
                energy["dram"] += amount * self.dram_pj_per_bit
        return energy
