"""The DMA engine and the DRAM channel (accelsim/sim/memory.py): timelines computed by hand, and
properties over random layers and configs: how a tile is cut and how large the staging area
is change nothing, every layer sits between its roofline bounds, and a memory-bound layer
takes its bytes over the bandwidth plus one latency."""

import dataclasses

import numpy as np
import pytest
from conftest import ROOT, random_conv_layer, random_linear_layer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim import Layer, Trace, load_arch
from accelsim.sim.machines import MACHINES
from accelsim.sim.machines.counts import LayerCounts
from accelsim.sim.memory import (
    LayerTraffic,
    latency_cycles,
    plan_network,
    run_memory_system,
    stream_bytes_per_cycle,
    transfer_cycles,
)
from accelsim.sim.simulator import count_layers, simulate
from accelsim.workload.synth import preset_spec, synthetic_trace

# 1 GHz, 64 B per cycle, 100 cycles of latency, and enough requests in flight to cover it.
ROUND = {"memory.dram_bandwidth_gb_s": 64, "memory.dram_latency_ns": 100,
         "memory.outstanding_requests": 100}
ARCH = load_arch(ROOT / "arch_configs" / "systolic.yaml", ROUND)
PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def traffic(tiles, staging=10**9, input_bytes=0, write_bytes=0, after_write=False,
            in_tiles=False):
    return LayerTraffic(tuple(tiles), staging, input_bytes, write_bytes, after_write, in_tiles)


def stalls(layers, arch=ARCH):
    return run_memory_system(layers, arch)[0]


def test_the_round_config_is_what_the_hand_timelines_assume():
    assert stream_bytes_per_cycle(ARCH) == 64 and latency_cycles(ARCH) == 100
    assert transfer_cycles(6400, ARCH) == 100 and transfer_cycles(1, ARCH) == 1


def test_a_stream_pays_the_latency_once_however_it_is_cut():
    # Data in over cycles 100-200; compute (50 cycles) follows it and ends with its last byte.
    assert stalls([traffic([(6400, 50)])]) == [150]
    assert stalls([traffic([(1600, 12), (1600, 13), (1600, 12), (1600, 13)])]) == [150]
    # Compute-bound: it starts with the first bytes and never waits again.
    assert stalls([traffic([(6400, 150)])]) == [100]
    assert stalls([traffic([(3200, 75), (3200, 75)])]) == [100]


def test_outstanding_requests_bound_the_stream_rate():
    # 10 requests of 64 B per 100 cycles: 6.4 B per cycle, so 6400 B take 1000 cycles.
    arch = load_arch(ROOT / "arch_configs" / "systolic.yaml",
                     {**ROUND, "memory.outstanding_requests": 10})
    assert stream_bytes_per_cycle(arch) == pytest.approx(6.4)
    assert stalls([traffic([(6400, 50)])], arch) == [100 + 1000 - 50]


def test_prefetch_runs_ahead_of_compute_by_the_staging_area_at_most():
    first = traffic([(640, 1000)])
    # With room for all of it, the second layer's weights arrive while the first computes.
    assert stalls([first, traffic([(6400, 10)])]) == [100, 0]
    # With room for half, the other 3200 B follow once it starts (cycle 1100): 50 cycles more.
    assert stalls([first, traffic([(6400, 10)], staging=3200)]) == [100, 40]


def test_reads_and_write_backs_share_the_channel():
    # Layer a: weights in over 100-200, compute 100-250, then its output (layer b's input)
    # goes out. Layer b's weights took the channel at 200-300, so the write runs 300-400,
    # b's input comes back after one latency (500-600) and b ends with it.
    a = traffic([(6400, 150)], write_bytes=6400)
    b = traffic([(6400, 10)], input_bytes=6400, after_write=True)
    stall, read, written = run_memory_system([a, b], ARCH)
    assert stall == [100, 600 - 250 - 10]
    assert read == [6400, 12800] and written == [6400, 0]


def test_a_temporally_tiled_layer_waits_for_its_input_to_be_written():
    # Its tiles carry its input rows: none is read before the producer's write (300-400)
    # ends, then one latency: 500-550 and 550-600.
    a = traffic([(6400, 200)], write_bytes=6400)
    b = traffic([(3200, 10), (3200, 10)], after_write=True, in_tiles=True)
    assert stalls([a, b]) == [100, 600 - 300 - 20]


def test_a_tiled_layer_whose_first_tiles_are_empty_still_waits_for_its_input():
    a = traffic([(6400, 200)], write_bytes=6400)
    b = traffic([(0, 0), (3200, 10), (3200, 10)], after_write=True, in_tiles=True)
    assert stalls([a, b]) == [100, 600 - 300 - 20]


def test_without_double_buffering_compute_waits_for_its_first_round_on_a_shared_channel():
    arch = load_arch(ROOT / "arch_configs" / "systolic.yaml",
                     {**ROUND, "memory.double_buffering": False})
    # Layer a computes 101-102 (its 64 B in at 100-101), then writes 12800 B (200 cycles
    # alone). Layer b's weights, requested when a's tile finished (102), come from 202 and
    # share the channel with the write: in at 402. b computes 402-502.
    stall = stalls([traffic([(64, 1)], write_bytes=12800), traffic([(6400, 100)])], arch)
    assert stall == [101, 502 - 102 - 100]


def test_a_traffic_list_the_simulator_never_builds_is_refused_not_miscounted():
    assert run_memory_system([], ARCH) == ([], [], [])
    with pytest.raises(ValueError, match="staging_bytes"):
        run_memory_system([traffic([(6400, 50)], staging=0)], ARCH)


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_a_layer_with_no_weights_to_stream_runs_on_every_machine(machine):
    weight, acts = np.zeros((4, 8), np.float16), np.ones((1, 8), np.float16)
    row = simulate(machine, Trace([Layer("zeros", "linear", weight, acts)])).iloc[0]
    assert row.cycles_total >= row.cycles_compute and row.dram_read_bytes >= 16


def test_the_last_write_ends_the_inference():
    assert stalls([traffic([(0, 50)], write_bytes=6400)]) == [100]  # 50-150, after compute


def test_without_double_buffering_rounds_of_transfer_and_compute_alternate():
    arch = load_arch(ROOT / "arch_configs" / "systolic.yaml",
                     {**ROUND, "memory.double_buffering": False})
    # Two rounds of 3200 B: in 100-150, compute 50; then latency, 50 cycles in, compute 50.
    assert stalls([traffic([(6400, 100)], staging=3200)], arch) == [100 + 50 + 100 + 50]


def test_clock_gating_stops_logic_static_power_while_stalled():
    layer = random_linear_layer(np.random.default_rng(0), samples=1, n_in=2048, n_out=512)
    overrides = {"memory.weights_resident": False}
    plain = simulate(load_arch("eie", overrides), Trace([layer])).iloc[0]
    gated = simulate(load_arch("eie", {**overrides, "memory.clock_gating_when_stalled": True}),
                     Trace([layer])).iloc[0]
    assert plain.cycles_memory_stall > 0 and gated.cycles_total == plain.cycles_total
    assert gated.energy_leakage_pj == pytest.approx(plain.energy_leakage_pj)
    assert gated.energy_logic_static_pj == pytest.approx(
        plain.energy_logic_static_pj * plain.cycles_compute / plain.cycles_total)


def test_benefit_placement_keeps_the_layers_that_save_the_most_bytes_per_resident_byte():
    # 64 KiB per tile, of which 56 KiB are left when the network spills. Layer "a" occupies
    # 40 KiB of every tile for 160 KiB streamed (its filters sit on few tiles); "b" and "c"
    # 24 KiB each for 384 KiB (spread evenly): in order keeps a, benefit keeps b and c.
    def arch(placement):
        key = "memory.buffers.weights."
        return load_arch(ROOT / "arch_configs" / "dense.yaml", {
            key + "bank_kb": 64, key + "banks": 1, key + "read_pj": 1.0, key + "write_pj": 1.0,
            key + "leakage_mw": 0.0, "memory.placement": placement})

    tiles = arch("in_order").buffer_instances("weights")

    def layer(per_tile_kib, streamed_kib):
        return LayerCounts(cycles_compute=1, cycles_ideal=1, ops_executed=1, macs_effective=1,
                           mac_units=1, tiles=[(streamed_kib * 1024, 1)],
                           weight_footprint={"weights": per_tile_kib * 1024})

    network = [layer(40, 160), layer(24, 24 * tiles), layer(24, 24 * tiles)]
    in_order = plan_network(network, arch("in_order"))
    benefit = plan_network(network, arch("benefit"))
    assert [p.weights_on_chip for p in in_order] == [True, False, False]
    assert [p.weights_on_chip for p in benefit] == [False, True, True]


# --- properties ---------------------------------------------------------------------------

tile_lists = st.lists(st.tuples(st.integers(0, 400), st.integers(0, 5000)), min_size=1,
                      max_size=3)
layer_traffic_lists = st.lists(
    st.builds(lambda tiles, staging, inputs, writes, after: traffic(
        [(64 * bursts, cycles) for bursts, cycles in tiles], 64 * staging, 64 * inputs,
        64 * writes, after),
        tile_lists, st.integers(1, 400), st.integers(0, 200), st.integers(0, 200),
        st.booleans()),
    min_size=1, max_size=3)


@PROPERTY
@given(layer_traffic_lists, st.integers(2, 6))
def test_cutting_tiles_into_pieces_changes_no_layer_time(layers, pieces):
    """A tile cut into `pieces` tiles of whole bursts, with its cycles split in proportion:
    every layer's time is the same, up to a cycle of rounding per piece. (A layer's input
    read is left out: it is its first tile's, as a dense machine's first pass reads all of
    it, so cutting that tile does change when the layer may go on.)"""
    layers = [traffic(layer.tiles, layer.staging_bytes, 0, layer.write_bytes)
              for layer in layers]
    def cut(layer):
        tiles = []
        for num_bytes, cycles in layer.tiles:
            bursts = num_bytes // 64
            for k in range(pieces):
                share = bursts // pieces + (k < bursts % pieces)
                cycles_share = cycles // pieces + (k < cycles % pieces)
                tiles.append((64 * share, cycles_share))
        return traffic(tiles, layer.staging_bytes, 0, layer.write_bytes)

    whole = stalls(layers)
    cut_up = stalls([cut(layer) for layer in layers])
    # The staging limit is enforced where a tile's consumption starts and at its last byte:
    # a cut adds such points, each worth at most a staging area's transfer.
    staging = max(transfer_cycles(layer.staging_bytes, ARCH) for layer in layers)
    for layer, a, b in zip(layers, whole, cut_up):
        total = sum(c for _, c in layer.tiles)
        assert abs(a - b) <= 0.02 * (total + a) + pieces * len(layers) * (staging + 4)


def random_layer(seed, kind, size, channels, filters, wd, ad):
    rng = np.random.default_rng(seed)
    if kind == "linear":
        return random_linear_layer(rng, samples=1, n_in=channels * 16, n_out=filters * 8,
                                   weight_density=wd, act_density=ad)
    return random_conv_layer(rng, samples=1, channels=channels, size=size, filters=filters,
                             weight_density=wd, act_density=ad)


layers = st.builds(random_layer, st.integers(0, 2**31), st.sampled_from(["conv2d", "linear"]),
                   st.integers(4, 12), st.integers(1, 24), st.integers(1, 32),
                   st.floats(0.05, 1), st.floats(0.05, 1))
configs = st.fixed_dictionaries({
    "machine": st.sampled_from(sorted(MACHINES)),
    "memory.dram_bandwidth_gb_s": st.floats(0.5, 100),
    "memory.dram_latency_ns": st.floats(0, 400),
    "memory.outstanding_requests": st.integers(1, 128),
    "memory.weights_resident": st.booleans(),
    "memory.placement": st.sampled_from(["in_order", "benefit"]),
    "weight_buffer_scale": st.integers(-14, 0),
})


def machine_arch(config, scale=1.0):
    """The config's machine with every weight buffer scaled by 2**weight_buffer_scale * scale
    (own figures, so no size is outside the CACTI table)."""
    machine = config["machine"]
    base = load_arch(ROOT / "arch_configs" / f"{machine}.yaml")
    overrides = {k: v for k, v in config.items() if k.startswith("memory.")}
    for name in WEIGHT_BUFFERS[machine]:
        key = f"memory.buffers.{name}."
        overrides.update({key + "bank_kb": base.memory.buffers[name].bank_kb
                          * 2.0 ** config["weight_buffer_scale"] * scale,
                          key + "read_pj": 1.0, key + "write_pj": 1.0, key + "leakage_mw": 0.0})
    return load_arch(ROOT / "arch_configs" / f"{machine}.yaml", overrides)


WEIGHT_BUFFERS = {"dense": ["weights"], "cnvlutin": ["weights"],
                  "eie": ["sparse_matrix", "pointers"], "systolic": ["filter"],
                  "scnn": ["weight_fifo"], "dcnn": ["weight_fifo"]}


def test_the_weight_buffers_are_the_ones_the_machines_report():
    layer = random_conv_layer(np.random.default_rng(0), samples=1)
    for machine, names in WEIGHT_BUFFERS.items():
        arch = load_arch(ROOT / "arch_configs" / f"{machine}.yaml")
        counts = count_layers(arch, Trace([layer]))[0].counts[0]
        assert sorted(counts.weight_footprint) == sorted(names)


def staging_total(arch, machine):
    """Bytes of every weight buffer over its instances: more than any stream's staging."""
    return sum(arch.memory.buffers[b].capacity_bytes * arch.buffer_instances(b)
               for b in WEIGHT_BUFFERS[machine])


@PROPERTY
@given(layers, configs)
def test_halving_or_doubling_the_staging_area_moves_no_layer_by_more_than_2_percent(layer,
                                                                                     config):
    """Unless its weights start or stop fitting on chip. The one physical effect left: a
    larger staging area lets more weights come early, sharing the channel with the layer's
    input read, so a layer whose time is that read may move by the prefetch's transfer time
    instead (in 1 of 782 random cases when this was written: 4.5 %, 65 cycles)."""
    archs = [machine_arch(config, scale) for scale in (0.5, 1.0, 2.0)]
    tables = [simulate(arch, Trace([layer])).iloc[0] for arch in archs]
    assert len({t.cycles_compute for t in tables}) == 1  # the staging area is not compute
    base = tables[1]
    for arch, other in ((archs[0], tables[0]), (archs[2], tables[2])):
        if bool(other.weights_on_chip) == bool(base.weights_on_chip):
            moved = abs(staging_total(arch, config["machine"])
                        - staging_total(archs[1], config["machine"]))
            prefetch = min(moved, base.dram_read_bytes) / stream_bytes_per_cycle(arch)
            assert abs(int(other.cycles_total) - int(base.cycles_total)) <= max(
                0.02 * base.cycles_total, prefetch) + 1


@PROPERTY
@given(st.lists(layers, min_size=2, max_size=3), configs)
def test_in_a_network_a_layer_moves_only_by_the_prefetch_the_staging_area_allows(network,
                                                                                   config):
    """Across layers the staging area is how far the DMA may run ahead: the next layer's
    weights prefetched while this one computes. So changing it by D bytes may move a layer
    by D / R (more or less of it prefetched) and its neighbour by as much (the prefetch
    shares the channel with it), besides the 2 % a layer on its own may move."""
    names = [f"l{i}" for i in range(len(network))]
    network = [dataclasses.replace(layer, name=name) for layer, name in zip(network, names)]
    trace = Trace(network, independent_layers=False)
    archs = [machine_arch(config, scale) for scale in (0.5, 1.0, 2.0)]
    tables = [simulate(arch, trace) for arch in archs]
    base, rate = tables[1], stream_bytes_per_cycle(archs[1])
    for arch, other in ((archs[0], tables[0]), (archs[2], tables[2])):
        moved = abs(staging_total(arch, config["machine"])
                    - staging_total(archs[1], config["machine"]))
        for (_, a), (_, b) in zip(base.iterrows(), other.iterrows()):
            if a.layer == "TOTAL" or bool(a.weights_on_chip) != bool(b.weights_on_chip):
                continue
            assert abs(int(b.cycles_total) - int(a.cycles_total)) <= (
                0.02 * a.cycles_total + 2 * moved / rate + latency_cycles(arch) + 4)


@PROPERTY
@given(layers, configs)
def test_every_layer_sits_between_its_roofline_bounds(layer, config):
    """compute and bytes / R below; that plus one latency, one tile's compute and a burst and
    a cycle of rounding per transfer above. R is the bandwidth wherever the requests in
    flight cover the bandwidth-delay product (every bundled config)."""
    arch = machine_arch(config)
    counts = count_layers(arch, Trace([layer]))[0].counts[0]
    row = simulate(arch, Trace([layer])).iloc[0]
    rate = stream_bytes_per_cycle(arch)
    bound = max(row.cycles_compute, row.dram_bytes / rate)
    transfers = len(counts.tiles) + 2
    slack = latency_cycles(arch) + max(c for _, c in counts.tiles) + transfers * (
        arch.memory.burst_bytes / rate + 1)
    assert bound - 1 <= row.cycles_total <= bound + slack


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_a_memory_bound_layer_takes_its_bytes_over_the_bandwidth_plus_one_latency(machine):
    """AlexNet fc6 at batch 1 with its weights streamed: within 1 % of the roofline."""
    spec = preset_spec("alexnet-dense")
    fc6 = [layer for layer in spec.layers if layer.name == "fc6"]
    trace = synthetic_trace(dataclasses.replace(spec, layers=fc6))
    arch = load_arch(ROOT / "arch_configs" / f"{machine}.yaml",
                     {"memory.weights_resident": False})
    row = simulate(arch, trace).iloc[0]
    bandwidth = arch.memory.dram_bandwidth_gb_s * 1e3 / arch.clock_mhz
    assert row.dram_bytes / bandwidth > 10 * row.cycles_compute or machine in ("eie", "systolic")
    expected = max(row.cycles_compute, row.dram_bytes / bandwidth) + latency_cycles(arch)
    assert row.cycles_total == pytest.approx(expected, rel=0.01)


def test_lenet4_on_scnn_takes_the_same_time_resident_or_streamed():
    """No LeNet-4 layer fits SCNN's weight FIFO, so `weights_resident` only shrinks the staging
    area to 1/8 of it: that must not change the time (it was 41 % slower when each staging
    chunk paid a full latency). Densities of the JP point in docs/findings.md."""
    spec = {"model": "lenet4", "layers": [
        dict(name="conv1", kind="conv2d", input_shape=[1, 28, 28], filters=20, kernel=5,
             stride=1, padding=2, groups=1, weight_density=0.5, activation_density=0.173),
        dict(name="conv2", kind="conv2d", input_shape=[20, 14, 14], filters=50, kernel=5,
             stride=1, padding=2, groups=1, weight_density=0.12, activation_density=0.06),
        dict(name="fc1", kind="linear", in_features=2450, out_features=500,
             weight_density=0.06, activation_density=0.10),
        dict(name="fc2", kind="linear", in_features=500, out_features=10,
             weight_density=0.3, activation_density=0.3)]}
    trace = synthetic_trace(spec)
    streamed = simulate(load_arch("scnn"), trace)
    resident = simulate(load_arch("scnn", {"memory.weights_resident": True}), trace)
    assert not resident.weights_on_chip.any()
    total = [t.cycles_total.iloc[-1] for t in (streamed, resident)]
    assert total[1] == pytest.approx(total[0], rel=0.02)
