"""The stage graph of a network: its input, its layers' stages and the class decision."""

from golden.conv import Conv2D
from golden.errors import ModelError
from golden.packing import score_width

from ..argmax import Argmax, argmax_cycles
from .base import Builder, Stream, check_chain, make_stages, walk

__all__ = ["StageGraph", "InputStage", "ArgmaxStage"]


class InputStage:
    """The network's input stream: ``features / in_simd`` beats per inference, ``in_simd``
    the first stage's :meth:`~hdl.stages.ComputeStage.input_simd`."""

    name = "input"

    def __init__(self, network_input, first):
        self.input, self.first = network_input, first

    def cycles(self):
        return [(self.name, self.input.features // self.first.input_simd())]


class ArgmaxStage:
    """The class decision over the last compute stage's scores: ``NF = ceil(classes /
    PE)`` beats, scanned one score per two cycles (:func:`hdl.argmax.argmax_cycles`)."""

    name = "argmax"

    def __init__(self, network, last):
        self.network, self.last = network, last
        layer = network.layers[-1]
        if isinstance(layer, Conv2D) and layer.out_shape[:2] != (1, 1):
            raise ModelError(f"the last convolution gives a {layer.out_shape} map; the class "
                             f"scores must be one vector (a 1x1 output, or a dense layer)")

    def cycles(self):
        return [(self.name, argmax_cycles(self.last.layer.out_features, self.last.folding.pe))]

    def build(self, last_act):
        # The real classes' scores fit the layer's proven score width (golden); a padded
        # last layer's accumulator range is wider, its extra lanes are never taken.
        return Argmax(classes=self.last.layer.out_features, pe=self.last.folding.pe,
                      width=min(last_act.out_width, score_width(self.network)))


class StageGraph:
    """The stages of a golden :class:`~golden.network.Network` (or of a chain of layers),
    with a folding attached to every compute stage after :meth:`fold`.

    Attributes
    ----------
    stages : list of Stage
        The main chain (a residual block holds its paths).
    compute : list of ComputeStage
        The dense and convolution stages in folding order (a block's main path, then its
        skip path): one folding entry each.
    input, argmax : InputStage, ArgmaxStage
        For a whole network (None for a chain of layers).
    """

    def __init__(self, network):
        self.network = network
        stages = make_stages(tuple(getattr(network, "layers", network)))
        if hasattr(network, "layers") and not (stages and stages[0].compute):
            raise ModelError("the first layer must be a dense or convolution layer")
        self._attach(stages)

    def _attach(self, stages):
        """Take ``stages`` as the main chain, with the compute list, input and argmax
        derived from them."""
        self.stages = stages
        self.compute = [s for stage in stages for s in stage.compute_stages()]
        self.input = self.argmax = None
        if hasattr(self.network, "layers"):
            self.input = InputStage(self.network.input, stages[0])
            self.argmax = ArgmaxStage(self.network, self.compute[-1])

    @property
    def folding(self):
        """The folding entries, one per compute stage (None before :meth:`fold`)."""
        return [stage.folding for stage in self.compute]

    def fold(self, folding, check=True):
        """A copy of the graph with ``folding`` (one entry per compute stage) attached;
        ``check``: raise :class:`~golden.errors.ModelError` naming the first stage that
        cannot be built at it."""
        folding = list(folding)
        if len(folding) != len(self.compute):
            raise ModelError(f"folding has {len(folding)} entries for {len(self.compute)} "
                             f"dense and convolution layers")
        graph = object.__new__(StageGraph)
        graph.network = self.network
        entries = iter(folding)
        graph._attach([stage.refold(entries) for stage in self.stages])
        if check:
            check_chain(graph.stages, Stream(), 0)
        return graph

    def cycles(self):
        """``[(stage name, cycles per inference)]`` of every unit of the dataflow, in
        order: the stages run concurrently on successive inputs."""
        out = self.input.cycles() if self.input else []
        for stage, stream in walk(self.stages, Stream()):
            out += stage.cycles(stream)
        return out + (self.argmax.cycles() if self.argmax else [])

    def initiation_interval(self):
        """Steady-state cycles per inference: the slowest stage of :meth:`cycles`."""
        return max(cycles for _, cycles in self.cycles())

    def residual_ends(self):
        """Per residual block (at any depth), the indices in :attr:`compute` of the last
        compute stage of its main and of its skip path."""
        def blocks(stages):
            for stage in stages:
                if hasattr(stage, "ends"):
                    yield stage
                for chain in stage.children():
                    yield from blocks(chain)
        index = {id(stage): i for i, stage in enumerate(self.compute)}
        return [tuple(index[id(end)] for end in block.ends()) for block in blocks(self.stages)]

    def build(self):
        """``(units, layers)``: the main chain's units (register slices included) and the
        ``(mvau, act)`` pair of every compute stage."""
        builder = Builder()
        units, _ = builder.chain(self.stages, Stream())
        return units, builder.layers
