"""The stage graph: one class per layer kind, each answering for its foldings, cycles
and units (:mod:`hdl.stages.base`); :class:`StageGraph` walks them for a network.

Importing the package registers the built-in kinds: dense, convolution, max-pools, sum
pools, recodes and residual blocks.
"""

from . import conv, dense, pool, recode, residual  # noqa: F401  (registers the kinds)
from .base import (
    STAGE_KINDS,
    Builder,
    ComputeStage,
    Stage,
    Stream,
    make_stages,
    register,
    register_handshakes,
)
from .dense import build_layer
from .graph import ArgmaxStage, InputStage, StageGraph

__all__ = ["STAGE_KINDS", "Builder", "ComputeStage", "Stage", "StageGraph", "Stream",
           "InputStage", "ArgmaxStage", "build_layer", "make_stages", "register",
           "register_handshakes", "check_folding", "compute_layers", "stage_cycles",
           "initiation_interval"]


def compute_layers(network):
    """The golden layers that take a folding entry, in folding order."""
    return [stage.layer for stage in StageGraph(network).compute]


def check_folding(network, folding):
    """``folding`` as a list, or a :class:`~golden.errors.ModelError` naming the first
    compute stage that cannot be built at it."""
    return StageGraph(network).fold(folding).folding


def stage_cycles(network, folding):
    """``[(stage name, cycles per inference)]`` (:meth:`StageGraph.cycles`)."""
    return StageGraph(network).fold(folding, check=False).cycles()


def initiation_interval(network, folding):
    """Cycles per inference at ``folding``: the slowest stage."""
    return StageGraph(network).fold(folding, check=False).initiation_interval()
