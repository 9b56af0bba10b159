"""On-chip allocation for the whole network, and DRAM traffic and stalls simulated with SimPy.

Allocation (plan_network), a modelling choice the papers leave open, stated here:
- Weights. With `weights_resident`, layers are walked in order and a layer's
  weights stay on chip when every weight buffer it uses still has room for
  them on top of the layers already kept: each buffer is checked on its own,
  per instance, against the fullest tile or PE. If the whole network fits,
  every layer is resident. Otherwise 1/8 of every weight buffer is kept as
  the staging area through which the other layers stream, and the walk fills
  the remaining 7/8. A layer that is not resident streams its weights from
  DRAM every inference, in staging-sized chunks. Without `weights_resident`
  every layer streams, through the whole buffer.
- Activations. A layer's input and output are live together: when they do
  not fit together in every activation buffer they use, the input is kept in
  DRAM: the previous layer writes it there and this layer reads it back. The
  first layer reads its input from DRAM and the last writes its output there.
  Pooling and the like happen on chip, so what crosses DRAM is the next
  layer's input, in the machine's storage format (with its metadata). A
  layer the machine tiles temporally (LayerCounts.activations_via_dram)
  reads its input from DRAM, with its tiles' shared rows again, and writes
  its output there.

Timing (run_memory_system): one inference is a sequence of transfers in
program order on one DMA channel. A read chunk (layer, bytes, compute
cycles) is fetched into one of the staging slots (two with double
buffering, else one) as soon as a slot is free (a tile moves in pieces
that fit a slot, at most MAX_PIECES of them); the compute process runs it
once its data is in, then frees the slot. A write-back starts once its
layer has finished computing, and the DMA does nothing else meanwhile, so
the next layer's input read waits for it. A transfer takes dram_latency +
bytes / bandwidth cycles (bytes rounded up to bursts). Waiting for data is a
memory stall, charged to the layer that waits; the tail of the last write is
charged to the last layer, because the inference ends when its output is in
DRAM. SimPy sees a few events per chunk, never per MAC.
"""

import math
from dataclasses import dataclass

import simpy

STAGING_FRACTION = 8  # 1/8 of a weight buffer stages streamed layers when the network spills
# A tile larger than its staging slot moves in slot-sized pieces, but in at most this many: SimPy
# sees a few events per piece, and machines that stream through a FIFO of a few hundred bytes
# (SCNN, DCNN) would otherwise need ~1e5 pieces a network. Overlap is unchanged; the pipeline's
# fill is then at most 1/MAX_PIECES of the tile's transfer instead of one slot's.
MAX_PIECES = 64


def transfer_cycles(num_bytes, arch):
    memory = arch.memory
    if num_bytes <= 0:
        return 0
    bursts = math.ceil(num_bytes / memory.burst_bytes)
    bytes_per_cycle = memory.dram_bandwidth_gb_s * 1e3 / arch.clock_mhz
    return math.ceil(memory.dram_latency_ns * arch.clock_mhz / 1e3) + math.ceil(
        bursts * memory.burst_bytes / bytes_per_cycle)


def total_capacity(arch, name):
    """Bytes of buffer `name` over all its instances."""
    return arch.memory.buffers[name].capacity_bytes * arch.buffer_instances(name)


@dataclass
class LayerPlan:
    """Where one layer's data lives, decided for the whole network."""

    weights_on_chip: bool
    input_from_dram: bool
    staging_bytes: int   # chunk size when its weights stream
    write_bytes: int     # written to DRAM after the layer (the next input, or the result)


def _fits(footprint, room):
    return all(need <= room[name] for name, need in footprint.items())


def plan_network(layer_counts, arch):
    """LayerPlan per layer, from LayerCounts in network order (the sample with the largest
    activation footprint, so the plan holds for every sample)."""
    memory = arch.memory
    slots = 2 if memory.double_buffering else 1
    weight_buffers = sorted({b for c in layer_counts for b in c.weight_footprint})
    capacity = {b: memory.buffers[b].capacity_bytes for b in weight_buffers}
    needed = {b: sum(c.weight_footprint.get(b, 0) for c in layer_counts) for b in weight_buffers}
    if not memory.weights_resident:
        resident, staging = [False] * len(layer_counts), dict(capacity)
    elif _fits(needed, capacity):
        resident, staging = [True] * len(layer_counts), dict(capacity)
    else:
        staging = {b: capacity[b] // STAGING_FRACTION for b in weight_buffers}
        room = {b: capacity[b] - staging[b] for b in weight_buffers}
        resident = []
        for counts in layer_counts:
            fits = _fits(counts.weight_footprint, room)
            if fits:
                room = {b: room[b] - counts.weight_footprint.get(b, 0) for b in room}
            resident.append(fits)

    from_dram = [
        index == 0 or counts.activations_via_dram
        or layer_counts[index - 1].activations_via_dram or not all(
            counts.input_footprint.get(b, 0) + counts.output_footprint.get(b, 0)
            <= total_capacity(arch, b)
            for b in {*counts.input_footprint, *counts.output_footprint})
        for index, counts in enumerate(layer_counts)]
    plans = []
    for index, counts in enumerate(layer_counts):
        if index + 1 == len(layer_counts):
            write = sum(counts.output_footprint.values())
        elif from_dram[index + 1]:
            write = sum(layer_counts[index + 1].input_footprint.values())
        else:
            write = 0
        staging_bytes = sum(staging[b] * arch.buffer_instances(b) for b in counts.weight_footprint)
        plans.append(LayerPlan(resident[index], from_dram[index],
                               max(1, staging_bytes // slots), write))
    return plans


def layer_chunks(counts, plan):
    """(read bytes, compute cycles) chunks of one layer, each fitting a staging slot."""
    chunks = []
    for tile_bytes, tile_cycles in counts.tiles:
        tile_bytes = 0 if plan.weights_on_chip else tile_bytes
        pieces = min(MAX_PIECES, max(1, math.ceil(tile_bytes / plan.staging_bytes)))
        for i in range(pieces):
            # Integer split of bytes and cycles over the pieces, remainders to the first ones.
            chunks.append([tile_bytes // pieces + (i < tile_bytes % pieces),
                           tile_cycles // pieces + (i < tile_cycles % pieces)])
    if plan.input_from_dram and chunks and not counts.activations_via_dram:
        chunks[0][0] += sum(counts.input_footprint.values())
    return [tuple(c) for c in chunks]


def run_memory_system(layers, arch):
    """layers: per layer (chunks, write-back bytes). Per layer: memory-stall cycles, DRAM bytes
    read and DRAM bytes written, for one inference."""
    env = simpy.Environment()
    slot_count = 2 if arch.memory.double_buffering else 1
    slots = simpy.Container(env, capacity=slot_count, init=slot_count)
    loaded = [[env.event() for _ in chunks] for chunks, _ in layers]
    computed = [env.event() for _ in layers]
    stall = [0] * len(layers)
    read = [0] * len(layers)
    written = [0] * len(layers)

    def dma():
        for index, (chunks, write_bytes) in enumerate(layers):
            for k, (num_bytes, _) in enumerate(chunks):
                yield slots.get(1)
                yield env.timeout(transfer_cycles(num_bytes, arch))
                read[index] += num_bytes
                loaded[index][k].succeed()
            if write_bytes:
                yield computed[index]
                yield env.timeout(transfer_cycles(write_bytes, arch))
                written[index] += write_bytes

    def compute():
        for index, (chunks, _) in enumerate(layers):
            for k, (_, cycles) in enumerate(chunks):
                waiting_since = env.now
                yield loaded[index][k]
                stall[index] += env.now - waiting_since
                yield env.timeout(cycles)
                yield slots.put(1)
            computed[index].succeed()
        compute_end = env.now
        yield dma_process
        stall[-1] += env.now - compute_end

    dma_process = env.process(dma())
    env.process(compute())
    env.run()
    return stall, read, written
