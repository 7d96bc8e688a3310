"""Memory model of a generated design on the iCE40: which memories become block RAM (EBR).

Pure Python over the component objects (no elaboration, no tools). It follows the
choices Yosys 0.70's ``memory_libmap`` was seen to make in ``synth_ice40`` logs of these
designs:

* memories with a write port (the FIFOs) go to EBR, however small;
* memories marked ``ram_style = "registers"`` (the MVAU replay buffers) go to flip-flops;
* read-only memories (weights, thresholds, biases) go to EBR when their logic cost, taken
  as ``bits / 16`` (a LUT4 holds 16 bits), exceeds the cost of the EBRs they need (64
  each, from Yosys's ``brams.txt``), and to logic otherwise;
* an EBR (SB_RAM40_4K) is 256x16, 512x8, 1024x4 or 2048x2; a W x D memory takes the
  cheapest tiling ``ceil(W / width) * ceil(D / depth)`` over those shapes.

Amaranth's ``SyncFIFOBuffered(width, depth)`` holds ``depth - 1`` words in its memory
(the last one in a register).
"""

from dataclasses import dataclass

__all__ = ["Memory", "ebr_count", "memories", "ebr_estimate"]

EBR_SHAPES = ((16, 256), (8, 512), (4, 1024), (2, 2048))
EBR_COST = 64


@dataclass
class Memory:
    name: str
    width: int
    depth: int
    kind: str        # "rom", "ram" or "registers"

    @property
    def bits(self):
        return self.width * self.depth

    @property
    def ebr(self):
        """EBRs this memory is expected to take (0: logic or flip-flops)."""
        if self.kind == "registers" or self.depth < 2:
            return 0
        blocks = ebr_count(self.width, self.depth)
        if self.kind == "rom" and self.bits / 16 <= EBR_COST * blocks:
            return 0
        return blocks


def ebr_count(width, depth):
    """The fewest EBRs holding a ``width`` x ``depth`` memory."""
    return min(-(-width // w) * -(-depth // d) for w, d in EBR_SHAPES)


def memories(top, image_fifo=None):
    """The memories of a :class:`hdl.network.NetworkTop` (and of the serial accelerator's
    image FIFO, given as ``(width, depth)``)."""
    out = []
    if image_fifo:
        width, depth = image_fifo
        out.append(Memory("image_fifo", width, depth - 1, "ram"))
    for index, ((mvau, act), f) in enumerate(zip(top.layers, top.folding)):
        if index:
            out.append(Memory(f"fifo{index}", f.simd * mvau.in_bits, 2 * mvau.sf - 1, "ram"))
        out.append(Memory(f"mvau{index}.weights", f.pe * f.simd * mvau.w_bits,
                          mvau.sf * mvau.nf, "rom"))
        if mvau.nf > 1:
            out.append(Memory(f"mvau{index}.inputs", f.simd * mvau.in_bits, mvau.sf,
                              "registers"))
        out.append(Memory(f"act{index}.params", act.param_width * act.pe, act.nf, "rom"))
    return out


def ebr_estimate(top, image_fifo=None):
    """Total EBRs expected for the design (see the module docstring)."""
    return sum(m.ebr for m in memories(top, image_fifo))
