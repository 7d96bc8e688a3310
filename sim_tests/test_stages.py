"""The stage registry: a toy layer kind added through :func:`hdl.stages.register` is
folded, costed in cycles and built like the built-in kinds, and its network runs in
Verilator equal to golden at the analytical initiation interval."""

from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

import hdl.stages.base
from golden.errors import ModelError
from golden.model import BINARY, Bias, Dense, InputQuant, Network, check_map
from golden.network import layer_forward
from golden.pool import MaxPool
from hdl.flow.folding import auto_folding
from hdl.folding import LayerFolding
from hdl.network import NetworkTop
from hdl.stages import Stage, StageGraph, register
from sim_tests.test_conv_network import images, make_conv
from sim_tests.test_network import check_network


@dataclass(frozen=True, eq=False)
class Invert:
    """A toy golden layer: ``y = 1 - x`` on a binary map."""

    in_shape: tuple

    @property
    def out_shape(self):
        return self.in_shape

    def io(self, shape, encoding, where):
        check_map(self, shape, where)
        if encoding != BINARY:
            raise ModelError(f"{where}: Invert takes a binary map")
        return self.out_shape, encoding

    def forward(self, x):
        return 1 - np.asarray(x)


class InvertUnit(wiring.Component):
    """Its hardware: every bit of a beat inverted, combinationally (no latency)."""

    def __init__(self, width):
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width))})

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [self.o.payload.eq(~self.i.payload), self.o.valid.eq(self.i.valid),
                     self.i.ready.eq(self.o.ready)]
        return m


class InvertStage(Stage):
    """Its stage: one beat per cycle at the incoming stream's codes per beat."""

    def cycles(self, stream):
        h, w, c = self.layer.in_shape
        return [(self.name, h * w * c // stream.cpb)]

    def build(self, builder, stream):
        self.require_stream(stream)
        return [InvertUnit(stream.width)]


@pytest.fixture
def invert_kind(monkeypatch):
    # A copy of the registry, so the toy kind does not outlive the test.
    monkeypatch.setattr(hdl.stages.base, "STAGE_KINDS", dict(hdl.stages.base.STAGE_KINDS))
    register(Invert)(InvertStage)


def invert_network(seed):
    """8x8 bits -> 3x3 conv (pad 1) to 4 channels -> Invert -> 2x2 max-pool -> 3 scores."""
    rng = np.random.default_rng(seed)
    inp = InputQuant((8, 8), 128)
    x = inp(rng.integers(0, 256, (300, 8, 8))).reshape(300, 8, 8, 1)
    conv, x = make_conv(rng, x, (8, 8, 1), 4, 3, pad=1)
    invert = Invert((8, 8, 4))
    x = layer_forward(invert, x)[1]
    pool = MaxPool((8, 8, 4), 2)
    dense = Dense(rng.choice([-1, 1], (3, 64)), Bias(rng.integers(-4, 4, 3)))
    return Network("invert", inp, [conv, invert, pool, dense])


def test_an_unregistered_layer_kind_is_refused_in_one_line():
    with pytest.raises(ModelError, match="no hardware for a Invert layer"):
        StageGraph(invert_network(1))


def test_a_toy_stage_kind_folds_costs_and_runs_equal_to_golden(invert_kind, verilator):
    network = invert_network(7)
    graph = StageGraph(network)
    assert [type(s).__name__ for s in graph.stages] == ["ConvStage", "InvertStage",
                                                       "MaxPoolStage", "DenseStage"]
    folding = [LayerFolding(1, 2), LayerFolding(16, 3)]
    names = dict(graph.fold(folding).cycles())
    assert names["1.invert"] == 8 * 8 * 4 // 2
    # The automatic folding walks the toy stage too (its cycles bound the budget).
    assert auto_folding(network, 1)
    pixels = images(np.random.default_rng(8), (8, 8), 6)
    check_network(network, folding, "stage_invert", pixels)
    assert any(isinstance(u, InvertUnit) for u in NetworkTop(network, folding).units)
