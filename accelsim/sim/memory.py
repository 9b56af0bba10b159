"""On-chip allocation for the whole network, and DRAM traffic and stalls simulated with SimPy.

Allocation (plan_network), a modelling choice the papers leave open, stated here:
- Weights. With `weights_resident`, a layer's weights stay on chip when every
  weight buffer it uses still has room for them on top of the layers already
  kept: each buffer is checked on its own, per instance, against the fullest
  tile or PE. If the whole network fits, every layer is resident. Otherwise
  1/8 of every weight buffer is kept as the staging area through which the
  other layers stream, and the remaining 7/8 are filled in the order
  `memory.placement` gives:
    in_order  layers in network order, each kept if it still fits;
    benefit   layers by DRAM bytes saved per byte of buffer they occupy
              (streamed bytes per inference over their footprint times the
              buffer's instances), most first, each kept if it still fits:
              the greedy answer to "which layers save the most traffic for
              this buffer". A layer spread unevenly over the PEs occupies
              its fullest PE's share on every PE, so it saves less per byte.
  A layer that is not resident streams its weights from DRAM every inference
  through the staging area. Without `weights_resident` every layer streams,
  through the whole buffer.
- Activations. A layer's input and output are live together: when they do
  not fit together in every activation buffer they use, the input is kept in
  DRAM: the previous layer writes it there and this layer reads it back. The
  first layer reads its input from DRAM and the last writes its output there.
  Pooling and the like happen on chip, so what crosses DRAM is the next
  layer's input, in the machine's storage format (with its metadata). A
  layer the machine tiles temporally (LayerCounts.activations_via_dram)
  reads its input from DRAM, with its tiles' shared rows again, each tile's
  rows with its weights (LayerCounts.tile_input_bytes), and writes its output
  there.

Timing (run_memory_system), modelled on a DMA engine in front of a DRAM
controller:
- The channel. DRAM answers a burst request after `dram_latency_ns`; the DMA
  engine keeps up to `outstanding_requests` bursts in flight, so by Little's
  law a stream moves at R = min(bandwidth, outstanding x burst / latency)
  bytes per cycle once its first burst is in: a stream pays the latency
  once. Transfers are whole bursts. Reads and write-backs share R as a
  fluid processor-sharing server: the transfers under way split it equally,
  so neither blocks the other beyond its share of the bandwidth, and the
  channel is never idle while one waits. Writes are posted: a write is done
  when its last byte has left the chip.
- The weight stream. Streamed tiles (their weight bytes, and a temporally
  tiled layer's input rows) are read in execution order, one stream for the
  whole inference, into the staging area: a FIFO that may run ahead of
  compute by at most its size, across tiles and layers. A tile's first
  staging area's worth is requested once the FIFO has room for it, the rest
  once compute on the tile has begun to make room. The staging area is
  sized in the machine's footprint units (per instance); a layer's stream
  holds staging / footprint of its bytes, so a buffer whose every instance
  holds the same broadcast weights (SCNN, DCNN) stages one instance's worth.
  Responses land in the engine's own buffer, one per outstanding request,
  so a FIFO smaller than the bandwidth-delay product still streams at R
  when compute drains it.
- Inputs. A layer whose input comes from DRAM reads it (into its activation
  buffers, not the staging area) once the layer that produces it has
  finished writing it; the first layer's input is in DRAM from the start.
  A temporally tiled layer's first tile waits for that write the same way.
- Compute. A tile starts when the previous tile has finished and its first
  bytes (and, for a layer's first tile, its input's first bytes) have
  arrived; it consumes them at its own rate and never runs ahead of them:
  it ends at max(start + its cycles, the arrival of its last byte).
Arrivals and consumption inside a tile are taken as straight lines, so
everything is closed form per tile (the staging limit is enforced where a
tile's consumption starts and at its last byte): SimPy sees a handful of
events per tile, never per burst, and a layer's time does not depend on how
its bytes are cut up.
- Without `double_buffering` the staging area is filled, then computed on,
  then refilled: a tile's transfer is requested when the previous tile has
  finished, and a tile larger than the staging area takes
  ceil(bytes / staging) rounds of transfer then compute, each round paying
  the latency (its bytes are booked on the channel at once).
Waiting for data is a memory stall, charged to the layer that waits; the
tail of the last write is charged to the last layer, because the inference
ends when its output is in DRAM.
"""

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction

import simpy

STAGING_FRACTION = 8  # 1/8 of a weight buffer stages streamed layers when the network spills
PLACEMENTS = ("in_order", "benefit")


def latency_cycles(arch):
    return math.ceil(arch.memory.dram_latency_ns * arch.clock_mhz / 1e3)


def stream_bytes_per_cycle(arch):
    """R: the bandwidth, or what `outstanding_requests` bursts per latency sustain if less."""
    memory = arch.memory
    bandwidth = memory.dram_bandwidth_gb_s * 1e3 / arch.clock_mhz
    latency = memory.dram_latency_ns * arch.clock_mhz / 1e3  # a mean: not rounded to cycles
    if latency == 0:
        return bandwidth
    return min(bandwidth, memory.outstanding_requests * memory.burst_bytes / latency)


def transfer_cycles(num_bytes, arch):
    """Cycles the channel is busy moving `num_bytes` (whole bursts) at R, latency excluded."""
    if num_bytes <= 0:
        return 0
    burst = arch.memory.burst_bytes
    return math.ceil(math.ceil(num_bytes / burst) * burst / stream_bytes_per_cycle(arch))


def total_capacity(arch, name):
    """Bytes of buffer `name` over all its instances."""
    return arch.memory.buffers[name].capacity_bytes * arch.buffer_instances(name)


@dataclass
class LayerPlan:
    """Where one layer's data lives, decided for the whole network."""

    weights_on_chip: bool
    input_from_dram: bool
    # Staging over the layer's per-instance weight footprint: the share of its streamed bytes
    # the staging area holds ahead of compute (at least 1 when the layer fits it whole).
    staging_share: float
    write_bytes: int     # written to DRAM after the layer (the next input, or the result)
    input_after_write: bool  # the input read waits for the previous layer's write


@dataclass(frozen=True)
class LayerTraffic:
    """What one layer moves on one sample, for run_memory_system."""

    tiles: tuple         # (read bytes, compute cycles) per tile, in execution order
    staging_bytes: int   # bytes of this layer's stream the staging area holds
    input_bytes: int     # read before the first tile, outside the staging area
    write_bytes: int
    input_after_write: bool
    input_in_tiles: bool  # a temporally tiled layer: its tiles carry its input rows


def _fits(footprint, room):
    return all(need <= room[name] for name, need in footprint.items())


def _benefit(counts, arch):
    """DRAM bytes a layer saves per inference by staying, per byte of buffer it occupies."""
    occupied = sum(need * arch.buffer_instances(b) for b, need in counts.weight_footprint.items())
    saved = sum(num_bytes for num_bytes, _ in counts.tiles)
    return saved / occupied if occupied else math.inf


def _resident_layers(layer_counts, arch):
    """(resident flag per layer, staging bytes per instance of each weight buffer)."""
    memory = arch.memory
    weight_buffers = sorted({b for c in layer_counts for b in c.weight_footprint})
    capacity = {b: memory.buffers[b].capacity_bytes for b in weight_buffers}
    needed = {b: sum(c.weight_footprint.get(b, 0) for c in layer_counts) for b in weight_buffers}
    if not memory.weights_resident:
        return [False] * len(layer_counts), capacity
    if _fits(needed, capacity):
        return [True] * len(layer_counts), capacity
    staging = {b: capacity[b] // STAGING_FRACTION for b in weight_buffers}
    room = {b: capacity[b] - staging[b] for b in weight_buffers}
    order = list(range(len(layer_counts)))
    if memory.placement == "benefit":
        order.sort(key=lambda i: -_benefit(layer_counts[i], arch))  # stable: ties in order
    resident = [False] * len(layer_counts)
    for index in order:
        footprint = layer_counts[index].weight_footprint
        if _fits(footprint, room):
            room = {b: room[b] - footprint.get(b, 0) for b in room}
            resident[index] = True
    return resident, staging


def plan_network(layer_counts, arch):
    """LayerPlan per layer, from LayerCounts in network order (the sample with the largest
    activation footprint, so the plan holds for every sample)."""
    resident, staging = _resident_layers(layer_counts, arch)
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
        footprint = sum(counts.weight_footprint.values())
        share = (sum(staging[b] for b in counts.weight_footprint) / footprint
                 if footprint else math.inf)
        plans.append(LayerPlan(resident[index], from_dram[index], share, write,
                               input_after_write=from_dram[index] and index > 0))
    return plans


def layer_traffic(counts, plan):
    """One layer's LayerTraffic on one sample, from its counts and its plan."""
    inputs = counts.tile_input_bytes or [0] * len(counts.tiles)
    tiles = tuple(((0 if plan.weights_on_chip else b) + rows, c)
                  for (b, c), rows in zip(counts.tiles, inputs))
    streamed = sum(b for b, _ in tiles)
    staging = streamed if math.isinf(plan.staging_share) else max(
        1, math.floor(plan.staging_share * streamed))
    input_bytes = (sum(counts.input_footprint.values())
                   if plan.input_from_dram and not counts.activations_via_dram else 0)
    return LayerTraffic(tiles, staging, input_bytes, plan.write_bytes, plan.input_after_write,
                        counts.activations_via_dram)


@dataclass
class _Tile:
    layer: int
    read_bytes: int
    cycles: int
    staging: int
    position: int = 0     # bytes of the weight stream before this tile
    first: bool = False   # the layer's first tile
    last: bool = False    # the layer's last tile
    start: int = 0        # compute start
    data_start: int = 0   # first byte in
    data_end: int = 0     # last byte in


def _ceil_div(a, b):
    return -(-a // b)


class _Channel:
    """The shared DRAM channel as a fluid processor-sharing server: the transfers under way
    split R max-min fairly (a transfer paced below its share, such as a stream that compute
    drains slowly, leaves the rest to the others), so no read or write blocks another beyond
    its share of the bandwidth. A transfer ends at the first whole cycle after its last
    byte."""

    def __init__(self, env, arch):
        self.env, self.arch = env, arch
        self.active = {}  # done event -> [full-rate cycles of work left, most of R it may use]
        self.rates = {}
        self.updated = 0
        self.generation = 0

    def transfer(self, num_bytes, least_cycles=0):
        """Process: `num_bytes` moved from now on, over at least `least_cycles`; returns its
        (first, end) cycles."""
        first = self.env.now
        work = transfer_cycles(num_bytes, self.arch)
        if work:
            self._advance()
            done = self.env.event()
            self.active[done] = [Fraction(work), min(Fraction(1), Fraction(work, max(1, least_cycles)))]
            self._reschedule()
            yield done
        return first, self.env.now

    def _advance(self):
        elapsed = self.env.now - self.updated
        for done, rate in self.rates.items():
            self.active[done][0] -= rate * elapsed
        self.updated = self.env.now

    def _reschedule(self):
        self.generation += 1
        self.rates, left = {}, Fraction(1)
        paced_first = sorted(self.active.items(), key=lambda item: item[1][1])
        for k, (done, (_, cap)) in enumerate(paced_first):
            self.rates[done] = min(cap, left / (len(paced_first) - k))
            left -= self.rates[done]
        if self.active:
            finish = self.updated + min(self.active[done][0] / rate
                                        for done, rate in self.rates.items())
            wakeup = self.env.timeout(max(0, math.ceil(finish) - self.env.now))
            wakeup.callbacks.append(lambda _, generation=self.generation: self._finish(generation))

    def _finish(self, generation):
        if generation != self.generation:
            return  # an arrival has rescheduled since
        self._advance()
        for done, (left, _) in list(self.active.items()):
            if left <= 0:
                del self.active[done]
                done.succeed()
        self._reschedule()


def run_memory_system(layers, arch):
    """layers: LayerTraffic per layer of one network, in order. Per layer: memory-stall
    cycles, DRAM bytes read and DRAM bytes written, for one inference."""
    env = simpy.Environment()
    channel = _Channel(env, arch)
    latency = latency_cycles(arch)
    double, burst = arch.memory.double_buffering, arch.memory.burst_bytes
    tiles, position = [], 0
    for index, layer in enumerate(layers):
        # A layer with nothing to compute still takes part: a tile of no bytes and no cycles.
        parts = [_Tile(index, b, c, layer.staging_bytes) for b, c in layer.tiles or [(0, 0)]]
        parts[0].first, parts[-1].last = True, True
        for tile in parts:
            tile.position, position = position, position + tile.read_bytes
        tiles += parts
    streamed = [i for i, tile in enumerate(tiles) if tile.read_bytes]
    positions = [tiles[i].position for i in streamed]
    started = {i: env.event() for i in streamed}    # its first byte's cycle is known
    arrived = {i: env.event() for i in streamed}    # its last byte's cycle is known
    computing = [env.event() for _ in tiles]        # its compute start is known
    finished = [env.event() for _ in tiles]
    input_started = {i: env.event() for i, layer in enumerate(layers) if layer.input_bytes}
    input_done = {i: env.event() for i in input_started}
    written = {i: env.event() for i, layer in enumerate(layers) if layer.write_bytes}
    layer_done = [env.event() for _ in layers]
    stall, read, write = [0] * len(layers), [0] * len(layers), [0] * len(layers)

    def producer_written(index):
        """The write this layer's input waits for, or None."""
        if layers[index].input_after_write and index - 1 in written:
            return written[index - 1]
        return None

    def consumed(count):
        """Cycle by which compute has consumed the stream's first `count` bytes."""
        if count <= 0:
            return 0
        holder = streamed[bisect.bisect_left(positions, count) - 1]
        yield computing[holder]
        tile = tiles[holder]
        done = count - tile.position
        return max(tile.start + _ceil_div(tile.cycles * done, tile.read_bytes),
                   tile.data_start + _ceil_div((tile.data_end - tile.data_start) * done,
                                               tile.read_bytes))

    def room_for_last_byte(i):
        """Earliest cycle tile i's last byte can be in: byte z waits for byte z - staging to be
        consumed, and the bytes after it follow at R at best. Consumption is linear inside a
        tile, so the bound is tightest at the end or where a tile's consumption starts."""
        tile = tiles[i]
        last = tile.position + tile.read_bytes - tile.staging
        if last <= 0:
            return 0
        if last > tile.position:  # the byte to wait for is this tile's own
            yield computing[i]
            end = tile.start + _ceil_div(tile.cycles * (last - tile.position), tile.read_bytes)
        else:
            end = yield from consumed(last)
        first = tile.position + 1 - tile.staging
        for k in range(bisect.bisect_left(positions, first), bisect.bisect_right(positions, last)):
            yield computing[streamed[k]]
            end = max(end, tiles[streamed[k]].start
                      + transfer_cycles(last - positions[k], arch))
        return end

    def weight_stream():
        previous_end = latency  # the stream's first burst pays the latency
        for k, i in enumerate(streamed):
            tile = tiles[i]
            ready = previous_end
            in_tiles = tile.first and layers[tile.layer].input_in_tiles
            waits_for = producer_written(tile.layer) if in_tiles else None
            if waits_for is not None:
                yield waits_for
                ready = max(ready, env.now + latency)
            if double:
                # Room for its first byte: the byte `staging` before it must have been consumed.
                ready = max(ready, (yield from consumed(tile.position + 1 - tile.staging)))
            elif k:
                yield finished[streamed[k - 1]]
                ready = max(ready, env.now + latency)
            yield env.timeout(max(0, ready - env.now))
            tile.data_start = env.now
            started[i].succeed()
            # Double-buffered, a staging area's worth (in whole bursts, at least one) comes at
            # once and the rest as compute on the tile makes room.
            ahead = tile.read_bytes
            if double:
                ahead = min(ahead, max(burst, tile.staging // burst * burst))
            _, tile.data_end = yield from channel.transfer(ahead)
            if ahead < tile.read_bytes:
                # Paced by compute: it frees the room at its own rate.
                yield computing[i]
                rest = tile.read_bytes - ahead
                _, tile.data_end = yield from channel.transfer(
                    rest, _ceil_div(tile.cycles * rest, tile.read_bytes))
            read[tile.layer] += tile.read_bytes
            if double:
                tile.data_end = max(tile.data_end, (yield from room_for_last_byte(i)))
            arrived[i].succeed()
            previous_end = tile.data_end

    def input_read(index):
        waits_for = producer_written(index)
        if waits_for is not None:
            yield waits_for
        yield env.timeout(latency)
        input_started[index].succeed(env.now)
        _, end = yield from channel.transfer(layers[index].input_bytes)
        read[index] += layers[index].input_bytes
        input_done[index].succeed(end)

    def write_back(index):
        yield layer_done[index]
        yield from channel.transfer(layers[index].write_bytes)
        write[index] += layers[index].write_bytes
        written[index].succeed()

    def compute():
        clock = 0  # when the previous tile finished
        for i, tile in enumerate(tiles):
            reads_input = tile.first and tile.layer in input_started
            input_first = (yield input_started[tile.layer]) if reads_input else 0
            if tile.read_bytes:
                yield started[i]
            rounds, round_transfer = 1, 0
            if not double and tile.read_bytes:
                rounds = _ceil_div(tile.read_bytes, tile.staging)
                round_transfer = transfer_cycles(_ceil_div(tile.read_bytes, rounds), arch)
            tile.start = max(env.now, clock, tile.data_start + round_transfer, input_first)
            yield env.timeout(tile.start - env.now)
            computing[i].succeed()
            end = tile.start + tile.cycles + (rounds - 1) * (latency + round_transfer)
            if tile.read_bytes:
                yield arrived[i]
                end = max(end, tile.data_end)
            if reads_input:
                end = max(end, (yield input_done[tile.layer]))
            stall[tile.layer] += end - clock - tile.cycles
            yield env.timeout(end - env.now)
            clock = end
            finished[i].succeed()
            if tile.last:
                layer_done[tile.layer].succeed()
        if written:
            yield simpy.AllOf(env, list(written.values()))
        stall[-1] += env.now - clock

    for index in input_started:
        env.process(input_read(index))
    for index in written:
        env.process(write_back(index))
    env.process(weight_stream())
    env.process(compute())
    env.run()
    return stall, read, write

