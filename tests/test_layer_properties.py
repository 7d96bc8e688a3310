"""Property-based: one layer (MVAU + activation) in the Amaranth simulator equals golden.

Hypothesis draws the layer shape, the folding (SIMD, PE and so SF, NF), the lanes summed
before the MVAU's pipeline register, the weight and input encodings, the activation (1-3
thresholds with random directions, or a bias), per-channel
power-of-two scales and the output backpressure; numpy, seeded from the draw, fills in
weights, thresholds and inputs (plus the all-zero and all-top input vectors). Derandomised,
so a CI run is repeatable.
"""

import numpy as np
import pytest
from amaranth.hdl import Module, Value
from amaranth.lib import stream, wiring
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from golden.model import BINARY, PIXELS, Bias, Dense, IntCodes, Thresholds
from golden.network import layer_forward
from golden.packing import hw_accumulator, pack_lanes, unpack_lanes
from golden.weights import LutWeights, ShiftWeights, TernaryWeights, weight_encoding
from hdl.folding import LayerFolding
from hdl.stages import build_layer

W_ENCODINGS = [weight_encoding("binary"), TernaryWeights(), ShiftWeights(1), ShiftWeights(2),
               LutWeights.dorefa(2), LutWeights.dorefa(3), LutWeights(2, (-2, 0, 3))]
X_ENCODINGS = [BINARY, IntCodes(2, -1, 2), IntCodes(2, 0, 3), IntCodes(3, 0, 7), PIXELS]


class LayerPipe(wiring.Component):
    def __init__(self, mvau, act):
        self.mvau, self.act = mvau, act
        super().__init__({"i": wiring.In(stream.Signature(mvau.simd * mvau.in_bits)),
                          "o": wiring.Out(stream.Signature(act.o.payload.shape()))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mvau, m.submodules.act = self.mvau, self.act
        wiring.connect(m, wiring.flipped(self.i), self.mvau.i)
        wiring.connect(m, self.mvau.o, self.act.i)
        wiring.connect(m, self.act.o, wiring.flipped(self.o))
        return m


def simulate(pipe, in_beats, n_out, ready_prob, seed):
    rng = np.random.default_rng(seed)
    out = []

    async def producer(ctx):
        for beat in in_beats:
            ctx.set(pipe.i.payload, beat)
            ctx.set(pipe.i.valid, 1)
            await ctx.tick().until(pipe.i.ready)
            ctx.set(pipe.i.valid, 0)

    async def consumer(ctx):
        cycles = 0
        while len(out) < n_out:
            ready = bool(rng.random() < ready_prob)
            ctx.set(pipe.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(pipe.o.valid,
                                                          Value.cast(pipe.o.payload))
            if valid and ready:
                out.append(int(payload))
            cycles += 1
            assert cycles < 200 + 20 * (len(in_beats) + n_out) / ready_prob, "stalled"

    sim = Simulator(pipe)
    sim.add_clock(1e-6)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    sim.run()
    return out


LAYER_STRATEGIES = dict(
    w_index=st.integers(0, len(W_ENCODINGS) - 1), x_index=st.integers(0, len(X_ENCODINGS) - 1),
    simd=st.integers(1, 6), sf=st.integers(1, 3), pe=st.integers(1, 4), nf=st.integers(1, 3),
    count=st.integers(0, 3), scaled=st.booleans(), ready_prob=st.sampled_from([1.0, 0.6]),
    group=st.sampled_from([2, 3, 16]), seed=st.integers(0, 2**32 - 1))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(w_index=st.integers(0, len(W_ENCODINGS) - 1), x_index=st.integers(0, len(X_ENCODINGS) - 1),
       simd=st.integers(1, 6), sf=st.integers(1, 3), pe=st.integers(1, 4), nf=st.integers(1, 3),
       count=st.integers(0, 3), scaled=st.booleans(), ready_prob=st.sampled_from([1.0, 0.6]),
       group=st.sampled_from([2, 3, 16]), seed=st.integers(0, 2**32 - 1))
def test_layer_matches_golden(w_index, x_index, simd, sf, pe, nf, count, scaled, ready_prob,
                              group, seed):
    w_enc, x_enc = W_ENCODINGS[w_index], X_ENCODINGS[x_index]
    mw, mh = simd * sf, pe * nf
    rng = np.random.default_rng(seed)
    w = rng.choice(np.array(w_enc.values), (mh, mw))
    scale = rng.integers(0, 3, mh) if scaled else None
    x_top = 1 if x_enc == BINARY else x_enc.top
    x = rng.integers(0, x_top + 1, (4, mw))
    x[0], x[1] = 0, x_top
    probe = Dense(w, Bias(np.zeros(mh, np.int64)), weight_encoding=w_enc, input_encoding=x_enc,
                  scale_exp=scale)
    acc = hw_accumulator(probe)
    golden_lo, golden_hi = acc.golden(np.array([[acc.lo] * mh, [acc.hi] * mh]))
    if count:
        # Thresholds over (a little beyond) the reachable golden range.
        t = np.sort(rng.integers(np.minimum(golden_lo, golden_hi) - 2,
                                 np.maximum(golden_lo, golden_hi) + 3, (count, mh)).T, axis=1)
        direction = rng.choice([-1, 1], mh)
        t[direction < 0] = t[direction < 0, ::-1]
        activation = Thresholds(t, direction, offset=0 if count == 1 else -1)
    else:
        activation = Bias(rng.integers(-20, 21, mh))
    layer = Dense(w, activation, weight_encoding=w_enc, input_encoding=x_enc, scale_exp=scale)
    mvau, act = build_layer(layer, LayerFolding(simd, pe), group=group)
    pipe = LayerPipe(mvau, act)

    _, y = layer_forward(layer, x)
    out_width = act.o.payload.shape().elem_shape.width
    in_beats = [v for row in x for v in pack_lanes(row.reshape(-1, simd), mvau.in_bits)]
    got = simulate(pipe, in_beats, len(x) * nf, ready_prob, seed)
    lanes = [v for word in got for v in unpack_lanes(word, pe, out_width, signed=not count)]
    assert lanes == y.ravel().tolist()


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, derandomize=True)
@given(**LAYER_STRATEGIES)
def test_layer_matches_golden_many(w_index, x_index, simd, sf, pe, nf, count, scaled,
                                   ready_prob, group, seed):
    """The same property over 1,000 random configurations (``-m slow``)."""
    test_layer_matches_golden.hypothesis.inner_test(
        w_index, x_index, simd, sf, pe, nf, count, scaled, ready_prob, group, seed)
