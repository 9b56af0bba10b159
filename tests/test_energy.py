import math

import pytest

from accelsim import load_arch
from accelsim.energy import EnergyModel

from conftest import ROOT


@pytest.fixture
def model():
    return EnergyModel(load_arch(ROOT / "arch_configs" / "eie.yaml"))


def test_table_points_are_returned_exactly(model):
    assert model.op_pj("int_mult", 32) == pytest.approx(3.1)
    assert model.op_pj("int_add", 8) == pytest.approx(0.03)
    assert model.op_pj("float_mult", 16) == pytest.approx(1.1)


def test_arithmetic_is_log_log_interpolated(model):
    slope = math.log(3.1 / 0.2) / math.log(4)
    assert model.op_pj("int_mult", 16) == pytest.approx(0.2 * 2 ** slope)
    # 16-bit fixed-point MAC: 16-bit multiply + 32-bit accumulate.
    assert model.mac_pj == pytest.approx(0.2 * 2 ** slope + 0.1)


def test_sram_energy_depends_on_capacity_and_width(model):
    assert model.sram_pj_per_bit(8) * 64 == pytest.approx(10.0)
    assert model.sram_pj_per_bit(32) * 32 == pytest.approx(5.0)
    # Beyond the table: capacity ** 0.5 from the nearest point.
    assert model.sram_pj_per_bit(128) == pytest.approx(5.0 / 32 * 2)
    assert model.sram_pj_per_bit(2) == pytest.approx(10.0 / 64 * 0.5)


def test_price_by_component(model):
    energy = model.price({"mac": 10, "sram_read:sparse_matrix": 64, "rf": 32, "dram": 32,
                          "codebook": 2})
    assert energy["mac"] == pytest.approx(10 * model.mac_pj)
    assert energy["sram_sparse_matrix"] == pytest.approx(64 * model.sram_pj_per_bit(128))
    assert energy["dram"] == pytest.approx(640.0)
    assert energy["rf"] == pytest.approx(1.0 + 2 * 16 / 32)
