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
  fluid processor-sharing server: the transfers under way split it max-min
  fairly, so neither blocks the other beyond its share of the bandwidth,
  and the channel is never idle while one waits (but for the rest of the
  cycle in which a transfer ends). Writes are posted: a write is done when
  its last byte has left the chip.
- The weight stream. Streamed tiles (their weight bytes, and a temporally
  tiled layer's input rows) are read in execution order, one stream for the
  whole inference, into the staging area: a FIFO that may run ahead of
  compute by at most its size, across tiles and layers. Once the FIFO has
  room for a tile's first byte, what it has room for then comes at once
  (whole bursts, at least one); the rest is requested as compute makes room
  and paced at the tile's own rate. The staging area is
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
  it ends at max(start + its cycles, the arrival of its last byte). A
  layer's first tile also ends no earlier than its whole input read, as a
  dense machine's first pass reads all of the input.
Arrivals and consumption inside a tile are taken as straight lines, so
everything is closed form per tile (the staging limit is enforced where a
tile's consumption starts and at its last byte): SimPy sees a handful of
events per tile, never per burst, and a layer's time does not depend on how
its streamed bytes are cut up, beyond a staging area's transfer per cut
(tests/test_dma.py).
- Without `double_buffering` the staging area is filled, then computed on,
  then refilled: a tile's transfer is requested when the previous streamed
  tile has finished, and a tile larger than the staging area takes
  ceil(bytes / staging) rounds of transfer then compute; compute starts
  when the first round is in, and each later round adds the latency and its
  uncontended transfer time (the rounds' bytes are booked on the channel at
  once).
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
    output_to_dram: bool     # it writes the next layer's input, or the result, to DRAM
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
        footprint = sum(counts.weight_footprint.values())
        share = (sum(staging[b] for b in counts.weight_footprint) / footprint
                 if footprint else math.inf)
        last = index + 1 == len(layer_counts)
        plans.append(LayerPlan(resident[index], from_dram[index], share,
                               output_to_dram=last or from_dram[index + 1],
                               input_after_write=from_dram[index] and index > 0))
    return plans


def layer_traffic(counts, plan, reader=None):
    """One layer's LayerTraffic on one sample, from its counts and its plan; `reader`: the
    next layer's counts on the same sample (None for the last), whose input it writes."""
    inputs = counts.tile_input_bytes or [0] * len(counts.tiles)
    tiles = tuple(((0 if plan.weights_on_chip else b) + rows, c)
                  for (b, c), rows in zip(counts.tiles, inputs))
    streamed = sum(b for b, _ in tiles)
    staging = max(1, streamed if math.isinf(plan.staging_share)
                  else math.floor(plan.staging_share * streamed))
    input_bytes = (sum(counts.input_footprint.values())
                   if plan.input_from_dram and not counts.activations_via_dram else 0)
    write_bytes = 0
    if plan.output_to_dram:
        written = counts.output_footprint if reader is None else reader.input_footprint
        write_bytes = sum(written.values())
    return LayerTraffic(tiles, staging, input_bytes, write_bytes, plan.input_after_write,
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
    data_start: int = 0   # first byte in (without double buffering: its first round in)
    data_end: int = 0     # last byte in


def _ceil_div(a, b):
    return -(-a // b)


class _Channel:
    """The shared DRAM channel as a fluid processor-sharing server: the transfers under way
    split R max-min fairly (a transfer paced below its share, such as a stream that compute
    drains slowly, leaves the rest to the others), so no read or write blocks another beyond
    its share of the bandwidth. A transfer ends at the first whole cycle after its last byte
    (the rest of that cycle is lost to the others), and a paced transfer slowed by others
    does not catch up later."""

    def __init__(self, env, arch):
        self.env, self.arch = env, arch
        self.active = {}  # done event -> [full-rate cycles of work left, most of R it may use]
        self.rates = {}
        self.updated = 0
        self.generation = 0

    def transfer(self, num_bytes, least_cycles=0):
        """Process: `num_bytes` moved from now on, over at least `least_cycles`; returns the
        cycle it ends."""
        work = transfer_cycles(num_bytes, self.arch)
        if work:
            self._advance()
            done = self.env.event()
            self.active[done] = [Fraction(work),
                                 min(Fraction(1), Fraction(work, max(1, least_cycles)))]
            self._reschedule()
            yield done
        return self.env.now

    def _advance(self):
        elapsed = self.env.now - self.updated
        for done, rate in self.rates.items():
            self.active[done][0] -= rate * elapsed
        self.updated = self.env.now

    def _reschedule(self):
        # Each arrival and each end changes every rate: the wake-up set before is left in
        # SimPy's queue and ignored when it fires (its generation is stale).
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
            return
        self._advance()
        for done, (left, _) in list(self.active.items()):
            if left <= 0:
                del self.active[done]
                done.succeed()
        self._reschedule()


class _Inference:
    """One inference through the memory system: SimPy processes for the weight stream, each
    input read, each write-back and compute, sharing one channel."""

    def __init__(self, layers, arch):
        self.layers, self.arch = layers, arch
        self.env = simpy.Environment()
        self.channel = _Channel(self.env, arch)
        self.latency = latency_cycles(arch)
        self.double = arch.memory.double_buffering
        self.tiles, position = [], 0
        for index, layer in enumerate(layers):
            # A layer with nothing to compute still takes part: a tile of no bytes or cycles.
            parts = [_Tile(index, b, c, layer.staging_bytes) for b, c in layer.tiles or [(0, 0)]]
            parts[0].first, parts[-1].last = True, True
            for tile in parts:
                tile.position, position = position, position + tile.read_bytes
            self.tiles += parts
        event = self.env.event
        self.streamed = [i for i, tile in enumerate(self.tiles) if tile.read_bytes]
        self.positions = [self.tiles[i].position for i in self.streamed]
        self.started = {i: event() for i in self.streamed}  # its data_start is known
        self.arrived = {i: event() for i in self.streamed}  # its data_end is known
        self.computing = [event() for _ in self.tiles]     # its start is known
        self.finished = [event() for _ in self.tiles]
        self.input_started = {i: event() for i, layer in enumerate(layers) if layer.input_bytes}
        self.input_done = {i: event() for i in self.input_started}
        self.written = {i: event() for i, layer in enumerate(layers) if layer.write_bytes}
        self.layer_done = [event() for _ in layers]
        self.stall, self.read, self.write = ([0] * len(layers) for _ in range(3))
        self.fully_consumed = 0  # streamed tiles before it are consumed whole

    def run(self):
        for index in self.input_started:
            self.env.process(self.input_read(index))
        for index in self.written:
            self.env.process(self.write_back(index))
        self.env.process(self.weight_stream())
        self.env.process(self.compute())
        self.env.run()
        if not self.finished[-1].triggered:
            raise RuntimeError("memory system: the inference did not finish (a deadlock)")
        return self.stall, self.read, self.write

    def producer_written(self, index):
        """The write this layer's input waits for, or None."""
        if self.layers[index].input_after_write and index - 1 in self.written:
            return self.written[index - 1]
        return None

    def consumed(self, count):
        """Process: the cycle by which compute has consumed the stream's first `count`
        bytes."""
        if count <= 0:
            return 0
        holder = self.streamed[bisect.bisect_left(self.positions, count) - 1]
        yield self.computing[holder]
        tile = self.tiles[holder]
        done = count - tile.position
        return max(tile.start + _ceil_div(tile.cycles * done, tile.read_bytes),
                   tile.data_start + _ceil_div((tile.data_end - tile.data_start) * done,
                                               tile.read_bytes))

    def consumed_bytes(self, j):
        """Bytes of streamed tile j that compute has consumed by now."""
        tile, now = self.tiles[j], self.env.now
        if not self.computing[j].triggered:
            return 0
        done = tile.read_bytes
        if tile.cycles and now < tile.start + tile.cycles:
            done = min(done, tile.read_bytes * (now - tile.start) // tile.cycles)
        if now < tile.data_end:
            done = min(done, tile.read_bytes * (now - tile.data_start)
                       // (tile.data_end - tile.data_start))
        return max(0, done)

    def unconsumed_before(self, k):
        """Stream bytes before the k-th streamed tile not consumed by now. Tiles are consumed
        in order and time only moves on, so the first tile not yet consumed whole is only
        ever looked for from the last one found."""
        while (self.fully_consumed < k and self.consumed_bytes(self.streamed[self.fully_consumed])
               == self.tiles[self.streamed[self.fully_consumed]].read_bytes):
            self.fully_consumed += 1
        if self.fully_consumed >= k:
            return 0
        oldest = self.streamed[self.fully_consumed]
        return (self.tiles[self.streamed[k]].position - self.tiles[oldest].position
                - self.consumed_bytes(oldest))

    def room_for_last_byte(self, i):
        """Process: the earliest cycle tile i's last byte can be in: byte z waits for byte
        z - staging to be consumed, and the bytes after it follow at R at best. Consumption
        is linear inside a tile, so the bound is tightest at the end or where a tile's
        consumption starts."""
        tile = self.tiles[i]
        last = tile.position + tile.read_bytes - tile.staging
        if last <= 0:
            return 0
        if last > tile.position:  # the byte to wait for is this tile's own
            yield self.computing[i]
            end = tile.start + _ceil_div(tile.cycles * (last - tile.position), tile.read_bytes)
        else:
            end = yield from self.consumed(last)
        first = tile.position + 1 - tile.staging
        for k in range(bisect.bisect_left(self.positions, first),
                       bisect.bisect_right(self.positions, last)):
            yield self.computing[self.streamed[k]]
            end = max(end, self.tiles[self.streamed[k]].start
                      + transfer_cycles(last - self.positions[k], self.arch))
        return end

    def weight_stream(self):
        env, burst = self.env, self.arch.memory.burst_bytes
        previous_end, waited = self.latency, set()  # the first burst pays the latency
        for k, i in enumerate(self.streamed):
            tile = self.tiles[i]
            ready = previous_end
            waits_for = None
            if self.layers[tile.layer].input_in_tiles and tile.layer not in waited:
                waited.add(tile.layer)
                waits_for = self.producer_written(tile.layer)
            if waits_for is not None:
                yield waits_for
                ready = max(ready, env.now + self.latency)
            if self.double:
                # Room for its first byte: the byte `staging` before it must have been consumed.
                ready = max(ready, (yield from self.consumed(tile.position + 1 - tile.staging)))
            elif k:
                yield self.finished[self.streamed[k - 1]]
                ready = max(ready, env.now + self.latency)
            yield env.timeout(max(0, ready - env.now))
            tile.data_start = env.now
            if self.double:
                # What the FIFO has room for now comes at once (whole bursts, at least one);
                # the rest as compute makes room, at the tile's own pace.
                room = tile.staging - self.unconsumed_before(k)
                ahead = min(tile.read_bytes, max(burst, room // burst * burst))
                self.started[i].succeed()
                tile.data_end = yield from self.channel.transfer(ahead)
                rest = tile.read_bytes - ahead
                if rest:
                    room_made = yield from self.consumed(tile.position + ahead + 1 - tile.staging)
                    yield env.timeout(max(0, room_made - env.now))
                    tile.data_end = yield from self.channel.transfer(
                        rest, _ceil_div(tile.cycles * rest, tile.read_bytes))
                tile.data_end = max(tile.data_end, (yield from self.room_for_last_byte(i)))
            else:
                # Filled, then computed on, in rounds of the staging area: compute starts
                # when the first round is in; the others are booked on the channel at once.
                rounds = _ceil_div(tile.read_bytes, tile.staging)
                first_round = _ceil_div(tile.read_bytes, rounds)
                tile.data_start = yield from self.channel.transfer(first_round)
                self.started[i].succeed()
                tile.data_end = yield from self.channel.transfer(tile.read_bytes - first_round)
            self.read[tile.layer] += tile.read_bytes
            self.arrived[i].succeed()
            previous_end = tile.data_end

    def input_read(self, index):
        waits_for = self.producer_written(index)
        if waits_for is not None:
            yield waits_for
        yield self.env.timeout(self.latency)
        self.input_started[index].succeed(self.env.now)
        end = yield from self.channel.transfer(self.layers[index].input_bytes)
        self.read[index] += self.layers[index].input_bytes
        self.input_done[index].succeed(end)

    def write_back(self, index):
        yield self.layer_done[index]
        yield from self.channel.transfer(self.layers[index].write_bytes)
        self.write[index] += self.layers[index].write_bytes
        self.written[index].succeed()

    def compute(self):
        env, clock = self.env, 0  # when the previous tile finished
        for i, tile in enumerate(self.tiles):
            reads_input = tile.first and tile.layer in self.input_started
            if reads_input:
                yield self.input_started[tile.layer]
            if tile.read_bytes:
                yield self.started[i]  # its first bytes (first round) are in
            tile.start = env.now
            self.computing[i].succeed()
            end = tile.start + tile.cycles
            if tile.read_bytes and not self.double:
                rounds = _ceil_div(tile.read_bytes, tile.staging)
                round_transfer = transfer_cycles(_ceil_div(tile.read_bytes, rounds), self.arch)
                end += (rounds - 1) * (self.latency + round_transfer)
            if tile.read_bytes:
                yield self.arrived[i]
                end = max(end, tile.data_end)
            if reads_input:
                # A layer's first tile reads all of its input, as a dense machine's first pass
                # does: it cannot end before the input read has.
                end = max(end, (yield self.input_done[tile.layer]))
            self.stall[tile.layer] += end - clock - tile.cycles
            yield env.timeout(end - env.now)
            clock = end
            self.finished[i].succeed()
            if tile.last:
                self.layer_done[tile.layer].succeed()
        if self.written:
            yield simpy.AllOf(env, list(self.written.values()))
        self.stall[-1] += env.now - clock


def run_memory_system(layers, arch):
    """layers: LayerTraffic per layer of one network, in order. Per layer: memory-stall
    cycles, DRAM bytes read and DRAM bytes written, for one inference."""
    if not layers:
        return [], [], []
    if any(layer.staging_bytes < 1 for layer in layers):
        raise ValueError("a layer's staging_bytes must be at least 1")
    return _Inference(layers, arch).run()
