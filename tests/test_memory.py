"""The memory system: network-level residency, per-buffer checks, output write-backs, stalls."""

import numpy as np
import pytest
from conftest import ROOT, random_conv_layer

from accelsim import Layer, Trace, load_arch
from accelsim.sim.machines import MACHINES
from accelsim.sim.memory import transfer_cycles
from accelsim.sim.simulator import simulate


def arch_with(machine, **overrides):
    return load_arch(ROOT / "arch_configs" / f"{machine}.yaml", overrides)


def own_buffer(name, bank_kb, banks):
    """Overrides that give buffer `name` its own size and figures (outside the CACTI table)."""
    key = f"memory.buffers.{name}."
    return {key + "bank_kb": bank_kb, key + "banks": banks, key + "read_pj": 1.0,
            key + "write_pj": 1.0, key + "leakage_mw": 0.0}


def fc(name, n_in, n_out, act_density=1.0):
    rng = np.random.default_rng(len(name) + n_in)
    acts = np.ones((1, n_in), np.float16)
    acts[0, rng.random(n_in) > act_density] = 0
    return Layer(name, "linear", np.ones((n_out, n_in), np.float16), acts)


def rows(table):
    return table[table.layer != "TOTAL"].reset_index(drop=True)


def test_memory_bound_layer_approaches_bytes_over_bandwidth():
    layer = fc("fc", 4096, 512)
    arch = arch_with("dense", **{"memory.dram_bandwidth_gb_s": 1.0,
                                 "memory.weights_resident": False})
    row = simulate(arch, Trace([layer])).iloc[0]
    assert row.dram_read_bytes == 512 * 4096 * 2 + 4096 * 2  # weights, then the input
    assert row.dram_write_bytes == 512 * 2                   # the result leaves the chip
    assert row.cycles_memory_stall > 10 * row.cycles_compute
    bytes_per_cycle = 1.0 * 1e3 / arch.clock_mhz
    assert row.cycles_total == pytest.approx(row.dram_bytes / bytes_per_cycle, rel=0.02)


def test_resident_weights_that_fit_cause_no_weight_traffic():
    layer = fc("fc", 256, 64)
    row = simulate(arch_with("dense"), Trace([layer])).iloc[0]
    assert bool(row.weights_on_chip) and row.dram_read_bytes == 256 * 2  # the input only
    tiny = arch_with("dense", **own_buffer("weights", 0.0625, 16))  # 1 KiB per tile
    row = simulate(tiny, Trace([layer])).iloc[0]
    assert not bool(row.weights_on_chip) and row.dram_read_bytes == 64 * 256 * 2 + 256 * 2


def test_residency_is_decided_for_the_whole_network():
    # 64 KiB of synapse buffer per tile; each layer puts 16 filters x 1024 x 2 B = 32 KiB on
    # the fullest tile. Two layers fill it exactly and stay; with a third the network spills,
    # 1/8 becomes staging and only the first layer fits in the remaining 56 KiB.
    arch = arch_with("dense", **own_buffer("weights", 64, 1))
    two = rows(simulate(arch, Trace([fc("a", 1024, 256), fc("b", 1024, 256)])))
    assert two.weights_on_chip.tolist() == [True, True]
    three = rows(simulate(arch, Trace([fc("a", 1024, 256), fc("b", 1024, 256),
                                       fc("c", 1024, 256)])))
    assert three.weights_on_chip.tolist() == [True, False, False]
    assert three.dram_read_bytes.tolist()[1:] == [256 * 1024 * 2] * 2


def test_each_buffer_is_checked_on_its_own():
    # One PE: 1000 columns need 1001 x 16-bit pointers (2002 B) in a 1 KiB pointer memory,
    # while the sparse matrix (128 KiB) would hold everything: the layer spills.
    arch = arch_with("eie", **{"eie.pes": 1, **own_buffer("pointers", 0.5, 2)})
    row = simulate(arch, Trace([fc("fc", 1000, 4)])).iloc[0]
    assert not bool(row.weights_on_chip)
    roomy = arch_with("eie", **{"eie.pes": 1})
    assert bool(simulate(roomy, Trace([fc("fc", 1000, 4)])).iloc[0].weights_on_chip)


def test_an_activation_that_does_not_fit_goes_to_dram_and_back():
    # 1 KiB of neuron memory. a: 200 B in + 400 B out fit; b: 400 B in + 800 B out do not,
    # so a writes b's input to DRAM and b reads it back; c: 800 B + 20 B fit.
    arch = arch_with("dense", **own_buffer("activations", 0.0625, 16))
    table = rows(simulate(arch, Trace([fc("a", 100, 200), fc("b", 200, 400), fc("c", 400, 10)])))
    assert table.input_from_dram.tolist() == [True, True, False]
    assert table.dram_write_bytes.tolist() == [400, 0, 20]
    assert table.dram_read_bytes.tolist() == [200, 400, 0]
    assert (table.energy_dram_pj == 8 * (table.dram_read_bytes + table.dram_write_bytes)
            * 640 / 32).all()


def test_outputs_are_written_on_chip():
    arch = arch_with("dense")
    counts = MACHINES["dense"].layer_counts(fc("a", 100, 200), 0, arch, 0)
    assert counts.actions["write:activations"] == -(-200 * 16 // 256)  # 13 bricks of 16
    conv = random_conv_layer(np.random.default_rng(0), channels=8, filters=40, size=6)
    counts = MACHINES["cnvlutin"].layer_counts(conv, 0, arch_with("cnvlutin"), 0)
    positions = 6 * 6
    assert counts.actions["write:activations"] == counts.actions["write:offsets"] == positions * 3


def test_cnvlutin_stores_full_bricks_with_offsets():
    layer = random_conv_layer(np.random.default_rng(1), samples=1, channels=32, size=8,
                              act_density=0.3)
    arch = arch_with("cnvlutin")
    counts = MACHINES["cnvlutin"].layer_counts(layer, 0, arch, 0)
    assert counts.input_footprint == {"activations": 32 * 64 * 2, "offsets": 32 * 64 * 4 // 8}
    row = simulate(arch, Trace([layer])).iloc[0]
    assert row.dram_read_bytes == 32 * 64 * 2 + 32 * 64 // 2


def test_independent_layers_each_read_and_write_dram():
    layers = [fc("a", 100, 200), fc("b", 200, 400), fc("c", 400, 10)]
    table = rows(simulate(arch_with("eie"), Trace(layers, independent_layers=True)))
    assert table.input_from_dram.all()
    assert table.dram_write_bytes.tolist() == [400, 800, 20]
    chained = rows(simulate(arch_with("eie"), Trace(layers)))
    assert chained.input_from_dram.tolist() == [True, False, False]


def test_the_last_write_is_part_of_the_inference():
    arch = arch_with("dense")
    row = simulate(arch, Trace([fc("a", 64, 2000)])).iloc[0]
    assert row.cycles_memory_stall >= transfer_cycles(2000 * 2, arch)


def test_a_temporally_tiled_layer_streams_its_input_in_its_tiles():
    from accelsim.sim.machines.counts import LayerCounts
    from accelsim.sim.memory import layer_traffic, plan_network
    arch = arch_with("scnn")

    def counts(via_dram, tiles, tile_input_bytes=()):
        return LayerCounts(cycles_compute=100, cycles_ideal=100, ops_executed=1, macs_effective=1,
                           mac_units=1, tiles=tiles, weight_footprint={"weight_fifo": 10},
                           input_footprint={"iaram": 100}, output_footprint={"oaram": 100},
                           activations_via_dram=via_dram, tile_input_bytes=list(tile_input_bytes))

    network = [counts(False, [(10, 100)]), counts(True, [(10, 50), (10, 50)], [50, 50]),
               counts(False, [(10, 100)]), counts(False, [(10, 100)])]
    plans = plan_network(network, arch)
    # The tiled layer reads its input from DRAM, so its producer writes it there; its own
    # output goes to DRAM too; the layer after it is on chip again.
    assert [p.input_from_dram for p in plans] == [True, True, True, False]
    assert [p.output_to_dram for p in plans] == [True, True, False, True]
    assert [layer_traffic(c, p, reader).write_bytes for c, p, reader in
            zip(network, plans, network[1:] + [None])] == [100, 100, 0, 100]
    # Its input rows (halo rows included) go with its tiles' weights: no separate input
    # read, and its first tile waits for the write of its input.
    tiled = layer_traffic(network[1], plans[1], network[2])
    assert tiled.tiles == ((60, 50), (60, 50)) and tiled.input_bytes == 0
    assert tiled.input_in_tiles and tiled.input_after_write
    after = layer_traffic(network[2], plans[2], network[3])
    assert after.tiles == ((10, 100),) and after.input_bytes == 100
