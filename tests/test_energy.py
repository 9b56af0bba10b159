import csv
import math

import pytest
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim import AccelsimError, load_arch
from accelsim.sim.energy import EnergyModel, bank_figures

TABLE = ROOT / "arch_configs" / "energy" / "cacti45nm.csv"
ROWS = list(csv.DictReader(open(TABLE)))


def row(memory, device, capacity, width):
    (match,) = [r for r in ROWS if (r["memory"], r["device"], int(r["capacity_bytes"]),
                                    int(r["width_bits"])) == (memory, device, capacity, width)]
    return {k: float(match[k]) for k in ("read_pj", "write_pj", "leakage_mw")}


@pytest.fixture
def eie():
    return EnergyModel(load_arch(ROOT / "arch_configs" / "eie.yaml"))


def test_table_points_are_returned_exactly(eie):
    assert eie.op_pj("int_mult", 32) == pytest.approx(3.1)
    assert eie.op_pj("int_add", 8) == pytest.approx(0.03)
    assert eie.op_pj("float_mult", 16) == pytest.approx(1.1)


def test_arithmetic_is_log_log_interpolated(eie):
    mult = 0.2 * 2 ** (math.log(3.1 / 0.2) / math.log(4))
    add = 0.03 * 2 ** (math.log(0.1 / 0.03) / math.log(4))
    assert eie.op_pj("int_mult", 16) == pytest.approx(mult)
    # EIE: 16-bit fixed-point multiply and 16-bit accumulate.
    assert eie.mac_pj == pytest.approx(mult + add)


@pytest.mark.parametrize("memory,device,capacity,width", [
    ("sram", "itrs-lop", 131072, 64), ("sram", "itrs-hp", 2048, 16),
    ("edram", "itrs-lop", 131072, 256), ("edram", "itrs-hp", 4194304, 512)])
def test_bank_figures_at_table_rows_are_the_rows(memory, device, capacity, width):
    figures, exact = bank_figures(TABLE, memory, device, capacity, width)
    expected = row(memory, "comm-dram/" + device if memory == "edram" else device, capacity, width)
    assert exact and all(figures[k] == pytest.approx(v) for k, v in expected.items())


def test_bank_figures_between_rows_are_log_log():
    # Halfway in log capacity and log width: the geometric mean of the four corners.
    figures, exact = bank_figures(TABLE, "sram", "itrs-lop", math.sqrt(8192 * 16384),
                                  math.sqrt(32 * 64))
    corners = [row("sram", "itrs-lop", c, w) for c in (8192, 16384) for w in (32, 64)]
    assert not exact
    for key in ("read_pj", "write_pj", "leakage_mw"):
        assert figures[key] == pytest.approx(math.prod(c[key] for c in corners) ** 0.25)


@settings(max_examples=60, deadline=None)
@given(st.floats(32 * 1024, 4 * 1024 * 1024), st.floats(16, 512))
def test_interpolated_figures_lie_between_their_corners(capacity, width):
    figures, _ = bank_figures(TABLE, "edram", "itrs-lop", capacity, width)
    caps = sorted({int(r["capacity_bytes"]) for r in ROWS if r["memory"] == "edram"})
    widths = sorted({int(r["width_bits"]) for r in ROWS})
    c0, c1 = max(c for c in caps if c <= capacity), min(c for c in caps if c >= capacity)
    w0, w1 = max(w for w in widths if w <= width), min(w for w in widths if w >= width)
    corners = [row("edram", "comm-dram/itrs-lop", c, w) for c in (c0, c1) for w in (w0, w1)]
    for key in ("read_pj", "leakage_mw"):
        values = [c[key] for c in corners]
        assert min(values) * (1 - 1e-9) <= figures[key] <= max(values) * (1 + 1e-9)


@pytest.mark.parametrize("capacity,width", [(64, 16), (8 << 20, 64), (4096, 1024), (512, 512)])
def test_shapes_outside_the_table_are_refused(capacity, width):
    with pytest.raises(LookupError, match="outside cacti45nm.csv"):
        bank_figures(TABLE, "sram", "itrs-lop", capacity, width)


def test_an_access_is_priced_per_bank(eie):
    sparse = eie.arch.memory.buffers["sparse_matrix"]
    pointers = eie.arch.memory.buffers["pointers"]
    energy = eie.price({"read:sparse_matrix": 10, "write:sparse_matrix": 2, "read:pointers": 6},
                       cycles=0)
    assert energy["buffer_sparse_matrix"] == pytest.approx(10 * sparse.read_pj + 2 * sparse.write_pj)
    assert energy["buffer_pointers"] == pytest.approx(6 * pointers.read_pj)
    # A register-file buffer costs its width x the rf_access energy per bit (1 pJ / 32 bits).
    assert eie.price({"read:activations": 4}, 0)["buffer_activations"] == pytest.approx(4 * 16 / 32)


def test_price_by_component(eie):
    energy = eie.price({"mac": 10, "rf": 32, "dram_read": 32, "dram_write": 64, "codebook": 2,
                        "mac_gated": 99}, cycles=0)
    assert energy["mac"] == pytest.approx(10 * eie.mac_pj)
    assert energy["dram"] == pytest.approx(3 * 640.0)
    assert energy["rf"] == pytest.approx(1.0 + 2 * 16 / 32)


def test_static_energy_is_leakage_and_logic_power_times_time(eie):
    arch = eie.arch
    buffers = arch.memory.buffers
    leakage_mw = arch.params.pes * (buffers["sparse_matrix"].leakage_mw
                                 + 2 * buffers["pointers"].leakage_mw)
    energy = eie.price({}, cycles=800)  # 1 µs at 800 MHz
    assert energy["leakage"] == pytest.approx(leakage_mw * 1e3)  # mW x µs = nJ
    assert energy["logic_static"] == pytest.approx(64 * 1.874 * 1e3)
    doubled = load_arch(ROOT / "arch_configs" / "eie.yaml", {"eie.pes": 128})
    assert EnergyModel(doubled).price({}, 800)["logic_static"] == pytest.approx(2 * 64 * 1874)


def test_an_unknown_action_is_an_error(eie):
    with pytest.raises(AccelsimError, match="counted action 'read:nowhere'"):
        eie.price({"read:nowhere": 1}, 0)
    with pytest.raises(AccelsimError, match="counted action 'sram_read:pointers'"):
        eie.price({"sram_read:pointers": 1}, 0)
