"""DRAM traffic and memory stalls, simulated with SimPy at tile granularity.

One inference is a sequence of chunks (layer, DRAM bytes, compute cycles) in
execution order. A DMA process fetches chunk i into one of the on-chip buffer
slots (two with double buffering, else one) as soon as a slot is free; the
compute process runs chunk i once its data is in, for the cycles the PE model
computed, then frees the slot. A transfer takes dram_latency + bytes /
bandwidth cycles (bytes rounded up to bursts). Waiting for data is a memory
stall, charged to the chunk's layer. Prefetching crosses layer boundaries.

What moves (a modelling choice the papers leave open, stated here):
- weights, in the machine's storage format with its metadata, every
  inference, unless `weights_resident` and the layer fits in the machine's
  weight buffers; a tile larger than a buffer slot is split into chunks;
- input activations, in the machine's format, for the first layer and for
  any layer whose input does not fit in the activation buffer;
- outputs stay on chip (or their write-back overlaps; it is not counted).
SimPy sees a few events per tile, never per MAC.
"""

import math

import simpy


def transfer_cycles(num_bytes, arch):
    memory = arch.memory
    if num_bytes <= 0:
        return 0
    bursts = math.ceil(num_bytes / memory.burst_bytes)
    bytes_per_cycle = memory.dram_bandwidth_gb_s * 1e3 / arch.clock_mhz
    return math.ceil(memory.dram_latency_ns * arch.clock_mhz / 1e3) + math.ceil(
        bursts * memory.burst_bytes / bytes_per_cycle)


def buffer_capacity_bytes(arch, names):
    buffers = arch.memory.buffers
    return int(sum(buffers[n].capacity_kb * 1024 * arch.buffer_instances(n) for n in names))


def layer_chunks(layer_index, counts, load_input, arch, weight_buffers):
    """Split one layer's tiles into (layer, bytes, cycles) chunks that fit a buffer slot."""
    slots = 2 if arch.memory.double_buffering else 1
    slot_bytes = max(1, buffer_capacity_bytes(arch, weight_buffers) // slots)
    weight_bytes = sum(b for b, _ in counts.tiles)
    resident = arch.memory.weights_resident and weight_bytes <= buffer_capacity_bytes(
        arch, weight_buffers)
    chunks = []
    for tile_bytes, tile_cycles in counts.tiles:
        tile_bytes = 0 if resident else tile_bytes
        pieces = max(1, math.ceil(tile_bytes / slot_bytes))
        for i in range(pieces):
            # Integer split of bytes and cycles over the pieces, remainders to the first ones.
            chunks.append([layer_index, tile_bytes // pieces + (i < tile_bytes % pieces),
                           tile_cycles // pieces + (i < tile_cycles % pieces)])
    if load_input and chunks:
        chunks[0][1] += counts.input_bytes
    return [tuple(c) for c in chunks], resident


def run_memory_system(chunks, layers, arch):
    """Per layer: (memory-stall cycles, DRAM bytes) for one inference."""
    env = simpy.Environment()
    slots = simpy.Container(env, capacity=2 if arch.memory.double_buffering else 1,
                            init=2 if arch.memory.double_buffering else 1)
    loaded = [env.event() for _ in chunks]
    stall = [0] * layers
    dram = [0] * layers

    def dma():
        for i, (layer, num_bytes, _) in enumerate(chunks):
            yield slots.get(1)
            yield env.timeout(transfer_cycles(num_bytes, arch))
            dram[layer] += num_bytes
            loaded[i].succeed()

    def compute():
        for i, (layer, _, cycles) in enumerate(chunks):
            waiting_since = env.now
            yield loaded[i]
            stall[layer] += env.now - waiting_since
            yield env.timeout(cycles)
            yield slots.put(1)

    env.process(dma())
    env.process(compute())
    env.run()
    return stall, dram
