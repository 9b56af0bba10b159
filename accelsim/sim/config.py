"""Machine configs: the schema of arch_configs/*.yaml and `load_arch`.

A config names its machine (`machine:` a name registered in accelsim.sim.machines)
and carries a section of the same name with that machine's parameters (the
dataclass of its registry entry), plus arithmetic,
memory and energy sections shared by all machines. Nothing a kernel uses is
hard-coded: every parameter comes from here. `energy` may be inline or the
name of an energy-table YAML file next to the config (arch_configs/energy/).
"""

import copy
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from ..core.inputs import load_yaml, shown
from ..core.schema import build, set_dotted, spec, to_plain
from ..errors import ConfigError
from .energy import bank_figures, memory_table
from .machines import MACHINES
from .memory import PLACEMENTS

# The machine configs shipped with accelsim: the repository's arch_configs/, linked into
# the package (accelsim/arch_configs) so that an installed copy carries them as package data.
BUNDLED_CONFIGS = Path(__file__).parents[1] / "arch_configs"
OPS = ("int_add", "int_mult", "float_add", "float_mult", "rf_access", "dram_access")


@dataclass(frozen=True)
class Arithmetic:
    weight_bits: int = spec(16, doc="bits per stored weight value", choices=(4, 8, 16, 32))
    activation_bits: int = spec(16, doc="bits per activation", choices=(4, 8, 16, 32))
    accumulator_bits: int = spec(32, doc="bits of a partial sum", choices=(16, 24, 32, 48, 64))
    number_format: str = spec("fixed", doc="integer/fixed-point or floating-point MACs",
                              choices=("fixed", "float"))


PER = ("chip", "tile", "pe")
TECHNOLOGIES = ("sram", "edram", "regfile")


@dataclass(frozen=True)
class Buffer:
    """An on-chip array: `banks` banks of `bank_kb` x `bank_width_bits` per instance."""

    technology: str = spec(doc="sram or edram (figures from the memory table) or regfile "
                           "(bank_width_bits x the rf_access energy per bit)", choices=TECHNOLOGIES)
    bank_kb: float = spec(doc="capacity of one bank in KiB", exclusive_minimum=0.0)
    bank_width_bits: int = spec(doc="bits one bank reads or writes per access", minimum=1)
    banks: int = spec(1, doc="banks per instance; an access of B bits touches "
                      "ceil(B / bank_width_bits) of them", minimum=1)
    device: str = spec("itrs-lop", doc="CACTI device flavour: itrs-lop (300 K) or itrs-hp (360 K)",
                       choices=("itrs-lop", "itrs-hp"))
    per: str = spec("chip", doc="one instance per chip, per tile or per PE (the count follows "
                    "the machine's tiles or pes)", choices=PER)
    read_pj: Optional[float] = spec(None, doc="energy of one bank read in pJ (default: the memory "
                                    "table)", minimum=0.0)
    write_pj: Optional[float] = spec(None, doc="energy of one bank write in pJ (default: the "
                                     "memory table)", minimum=0.0)
    leakage_mw: Optional[float] = spec(None, doc="leakage of one bank in mW (default: the memory "
                                       "table)", minimum=0.0)
    figures_from: str = spec("", doc="set by the loader: where read_pj, write_pj and leakage_mw "
                             "come from")
    source: str = spec("", doc="where the organisation comes from")

    @property
    def capacity_bytes(self):
        """Bytes of one instance."""
        return int(self.banks * self.bank_kb * 1024)


@dataclass(frozen=True)
class StaticPower:
    mw: float = spec(doc="logic static and clock-network power of one instance in mW", minimum=0.0)
    source: str = spec(doc="where the figure comes from")
    per: str = spec("chip", doc="one instance per chip, per tile or per PE", choices=PER)


@dataclass(frozen=True)
class Memory:
    dram_bandwidth_gb_s: float = spec(doc="DRAM bandwidth in GB/s", exclusive_minimum=0.0)
    dram_latency_ns: float = spec(100.0, doc="latency of a DRAM burst in ns", minimum=0.0)
    burst_bytes: int = spec(64, doc="DRAM transfer granularity in bytes", minimum=1)
    outstanding_requests: int = spec(16, doc="burst requests the DMA engine keeps in flight: "
                                     "a stream moves at min(bandwidth, requests x burst / "
                                     "latency)", minimum=1)
    weights_resident: bool = spec(False, doc="weights stay on chip (loaded once, not per inference)")
    placement: str = spec("in_order", doc="which layers' weights stay on chip when not all fit: "
                          "in_order (network order) or benefit (most DRAM bytes saved per "
                          "resident byte first)", choices=PLACEMENTS)
    double_buffering: bool = spec(True, doc="overlap the next tile's transfer with compute")
    clock_gating_when_stalled: bool = spec(False, doc="a machine waiting for DRAM gates its "
                                           "clock: it pays leakage only, no logic static or "
                                           "clock power")
    buffers: dict[str, Buffer] = spec(doc="on-chip arrays by name", factory=dict)


@dataclass(frozen=True)
class OpEnergy:
    op: str = spec(doc="the action priced", choices=OPS)
    bits: int = spec(doc="operand or access width in bits", minimum=1)
    pj: float = spec(doc="energy per action in pJ", minimum=0.0)
    source: str = spec(doc="where the figure comes from")


@dataclass(frozen=True)
class Energy:
    ops: list[OpEnergy] = spec(doc="energy per arithmetic, register-file and DRAM action")
    memory_table: str = spec(doc="CSV of per-bank SRAM/eDRAM figures (CACTI), relative to the "
                             "energy file (or to the config when the energy section is inline)")
    name: str = spec("", doc="name of the energy table")
    rule: str = spec("", doc="how values between table points are derived")


@dataclass(frozen=True)
class ArchConfig:
    """A machine config, resolved and validated: what `load_arch` returns.

    `machine` picks the machine model; `params` holds that machine's own section (the
    dataclass of its registry entry, e.g. EIE's pes and FIFO depth); `memory`, `energy`,
    `static_power` and `arithmetic` are shared by every machine. `to_dict()` gives the
    resolved YAML (`accelsim config NAME` prints it). Build one with
    `load_arch("eie")`, `load_arch("my.yaml")` or `load_arch("eie", {"eie.pes": 256})`.
    """

    name: str = spec(doc="short name used in result tables")
    machine: str = spec(doc="which machine model runs the trace (a name in accelsim.sim.machines)")
    clock_mhz: float = spec(doc="PE array clock in MHz", exclusive_minimum=0.0)
    memory: Memory = spec(doc="DRAM and on-chip buffers")
    energy: Energy = spec(doc="energy table (inline or the name of a YAML file)")
    static_power: StaticPower = spec(doc="logic static and clock power, priced over elapsed time")
    description: str = spec("", doc="free text")
    arithmetic: Arithmetic = spec(doc="bit widths", factory=Arithmetic)
    # The section named after the machine, built from its registry entry's dataclass.
    params: object = dataclasses.field(default=None, metadata={"internal": True})

    def instances(self, per: str) -> int:
        """How many of a per-chip, per-tile or per-PE part the machine has."""
        return 1 if per == "chip" else getattr(self.params, "tiles" if per == "tile" else "pes")

    def buffer_instances(self, name: str) -> int:
        """How many copies of buffer `name` the machine has (one per chip, tile or PE)."""
        return self.instances(self.memory.buffers[name].per)

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain YAML-ready data, the machine's section under its name."""
        plain = to_plain(self)
        params = plain.pop("params")
        return {**plain, self.machine: params}


# The bound on every size or count of a machine section that states none of its own: the
# models keep arrays per PE, lane, bank or entry, so a larger value allocates beyond any
# machine's memory before a cycle is counted. Published designs use at most a few hundred.
MAX_UNITS = 4096


def _machine_section(raw, where):
    """(registry entry, parameters) of the machine `raw` names; removes its section from raw."""
    name = raw.get("machine")
    if not isinstance(name, str) or name not in MACHINES:
        raise ConfigError(f"{where}machine = {shown(name)} is invalid: must be one of "
                          f"{', '.join(repr(m) for m in MACHINES)}")
    for other in MACHINES:
        if other != name and other in raw:
            raise ConfigError(f"{where}section '{other}' does not apply to machine '{name}'; "
                              f"remove it or set machine: {other}")
    if name not in raw:
        raise ConfigError(f"{where}machine is '{name}' but section '{name}' is missing")
    entry = MACHINES[name]
    params = build(entry.params, raw.pop(name), where, prefix=f"{name}.")
    for field in dataclasses.fields(params):
        value = getattr(params, field.name)
        if type(value) is int and field.metadata.get("maximum") is None and value > MAX_UNITS:
            raise ConfigError(f"{where}{name}.{field.name} = {value} is invalid: a machine's "
                              f"sizes and counts are at most {MAX_UNITS} (the models allocate "
                              "state per unit)")
    return entry, params


def _check_parts(config, entry, where):
    parts = {f"memory.buffers.{name}": b.per for name, b in config.memory.buffers.items()}
    parts["static_power"] = config.static_power.per
    for key, per in parts.items():
        unit = {"tile": "tiles", "pe": "pes"}.get(per)
        if unit and not hasattr(config.params, unit):
            raise ConfigError(f"{where}{key}.per = {shown(per)} is invalid: "
                              f"machine '{config.machine}' has no {unit}")
    missing = [b for b in entry.buffers if b not in config.memory.buffers]
    if missing:
        raise ConfigError(f"{where}memory.buffers lacks {', '.join(missing)}; machine "
                          f"'{config.machine}' needs {', '.join(entry.buffers)}")


def _resolve_buffer_figures(config, table_path, where):
    """Fill each buffer's missing per-bank figures from the memory table."""
    buffers = {}
    for name, buffer in config.memory.buffers.items():
        given = {k: getattr(buffer, k) for k in ("read_pj", "write_pj", "leakage_mw")}
        if buffer.technology == "regfile" or None not in given.values():
            buffers[name] = dataclasses.replace(buffer, figures_from=(
                "rf_access op" if buffer.technology == "regfile" else "config"))
            continue
        try:
            memory_table(table_path)
        except ConfigError as exc:
            raise ConfigError(f"{where}energy.memory_table: {exc}") from None
        try:
            figures, exact = bank_figures(table_path, buffer.technology, buffer.device,
                                          buffer.bank_kb * 1024, buffer.bank_width_bits)
        except LookupError as exc:
            raise ConfigError(f"{where}memory.buffers.{name}: {exc}; give read_pj, write_pj and "
                              f"leakage_mw in the config") from None
        filled = {k: figures[k] if v is None else v for k, v in given.items()}
        buffers[name] = dataclasses.replace(buffer, **filled, figures_from=(
            f"{Path(table_path).name} ({'table row' if exact else 'log-log interpolated'})"))
    memory = dataclasses.replace(config.memory, buffers=buffers)
    return dataclasses.replace(config, memory=memory)


def _read_yaml(path, where):
    return load_yaml(path, where, ConfigError)


def arch_from_dict(raw, where="", base_dir=Path("."), overrides=None):
    """Validate a parsed config; `overrides` maps dotted keys to new values."""
    raw = copy.deepcopy(raw)
    energy_dir = Path(base_dir)
    if isinstance(raw, dict) and isinstance(raw.get("energy"), str):
        energy_path = Path(base_dir) / raw["energy"]
        raw["energy"] = _read_yaml(energy_path, f"{where}energy table '{raw['energy']}': ")
        energy_dir = energy_path.parent
    for key, value in (overrides or {}).items():
        set_dotted(raw, key, value, where)
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}the document must be a mapping of the keys "
                          f"{', '.join(f.name for f in dataclasses.fields(ArchConfig))}")
    entry, params = _machine_section(raw, where)
    config = dataclasses.replace(build(ArchConfig, raw, where), params=params)
    _check_parts(config, entry, where)
    return _resolve_buffer_figures(config, energy_dir / config.energy.memory_table, where)


def bundled_configs():
    """{name: path} of the machine configs shipped with accelsim ("eie": .../eie.yaml)."""
    return {path.stem: path for path in sorted(BUNDLED_CONFIGS.glob("*.yaml"))}


def arch_path(arch):
    """The file an --arch value names: the path itself when that file exists (or when it
    has a suffix or a directory: a missing file is reported by its reader), else a bare
    name of a bundled config."""
    if not isinstance(arch, (str, os.PathLike)):
        raise TypeError(f"a machine config is an ArchConfig, a YAML path or a bundled name "
                        f"such as 'eie', got {shown(arch)}")
    path, text = Path(arch), str(arch)
    if path.is_file() or path.suffix or "/" in text or os.sep in text:
        return path
    bundled = bundled_configs()
    if text not in bundled:
        raise ConfigError(f"arch config {shown(text)}: no such file, and no bundled config "
                          f"of that name (bundled: {', '.join(bundled)})")
    return bundled[text]


def load_arch(arch: Union[ArchConfig, str, Path],
              overrides: Optional[Mapping[str, Any]] = None) -> ArchConfig:
    """Read, resolve and validate a machine config: a YAML file, or the name of a config
    bundled with accelsim ("eie"; `accelsim config --list` lists them). An ArchConfig is
    checked by the same code (and `overrides` applied to it)."""
    if overrides is not None and not isinstance(overrides, Mapping):
        raise TypeError(f"overrides must map dotted keys to values, got {shown(overrides)}")
    if isinstance(arch, ArchConfig):
        if overrides:  # its energy figures were looked up for its own sizes: reload instead
            raise ValueError(f"overrides apply to a config file or bundled name, not to the "
                             f"ArchConfig {shown(arch.name)}; use dataclasses.replace")
        arch_from_dict(arch.to_dict(), f"arch config {shown(arch.name)}: ")
        return arch
    path = arch_path(arch)
    where = f"arch config {path}: "
    return arch_from_dict(_read_yaml(path, where), where, path.parent, overrides)
