"""The fit search: the fastest automatic folding whose synthesised design fits a board.

Candidates come from the automatic folding (:mod:`hdl.flow.folding`); the resource model
(:mod:`hdl.flow.resources`) rules out the clearly too large ones, synthesis
(:func:`hdl.flow.bitstream.synthesize`) measures the rest. A candidate that does not fit
gets a second chance at the same speed: :func:`cheaper_folding`, the folding the model
expects to be smallest. Place and route is not run here.
"""

from dataclasses import replace
from pathlib import Path

from boards import board as get_board

from ..folding import LayerFolding
from ..network import NetworkTop
from ..spram import spram_count
from ..stages import StageGraph, initiation_interval
from . import bitstream
from .bitstream import BoardBuildError, over_capacity
from .folding import auto_folding, choose_elements
from .resources import Memory, model_estimates, silence

__all__ = ["fit_folding", "replay_for_board", "weights_for_board", "memories_for_board",
           "cheaper_folding", "REFINE_STEPS", "LUT4_MODEL_MARGIN"]

# The LUT4 model's worst error on whole networks (benchmarks/ice40_resources.py) is under
# 10 %: the search synthesises every candidate the model puts below this margin over capacity.
LUT4_MODEL_MARGIN = 1.2


def replay_for_board(board, network, folding, log=print):
    """``folding`` as built on ``board``: where the board's block RAM is modelled, when
    the replay buffers in RAM would take more block RAM than the chip has and in
    flip-flops they would not, every layer keeps its replay in flip-flops."""
    if not board.block_ram_model or all(f.replay == "registers" for f in folding):
        return folding
    cap = board.capacity["ebr"]
    ebr, _ = model_estimates(network, folding)
    if ebr <= cap:
        return folding
    regs = [replace(f, replay="registers") for f in folding]
    ebr_regs, _ = model_estimates(network, regs)
    if ebr_regs >= ebr:
        return folding
    log(f"replay buffers in flip-flops: in block RAM the model needs {ebr} of {cap} EBR, "
        f"in flip-flops {ebr_regs}")
    return regs


def weights_for_board(board, network, folding, log=print):
    """``folding`` as built on ``board``: where the board has SPRAM (and a flash to fill
    it from) and the block RAM the model expects exceeds the chip's, the weight memories
    that take the most EBR move to SPRAM (``weights="spram"``), one at a time while SPRAM
    cells remain, until the EBR fit; unchanged when that cannot make them fit."""
    if (not board.block_ram_model or not board.capacity.get("spram")
            or board.flash_offset is None):
        return folding
    cap, cells_cap = board.capacity["ebr"], board.capacity["spram"]
    ebr, logic = model_estimates(network, folding)
    if ebr <= cap:
        return folding
    top = NetworkTop(network, folding)
    silence(top)
    units = [mvau for mvau, _ in top.layers]
    moves = []
    for index, (f, unit) in enumerate(zip(folding, units)):
        width, depth = unit.pe * unit.simd * unit.w_bits, unit.sf * unit.nf
        saved = Memory("", width, depth, "rom").ebr
        if f.weights == "rom" and saved:
            moves.append((-saved, spram_count(width, depth), index))
    out, cells, moved = list(folding), logic["spram"], []
    for saved, need, index in sorted(moves):
        if ebr <= cap:
            break
        if cells + need <= cells_cap:
            out[index] = replace(out[index], weights="spram")
            ebr, cells = ebr + saved, cells + need
            moved.append(str(index))
    if ebr > cap:
        return folding
    log(f"weights of layer{'s' if len(moved) > 1 else ''} {', '.join(moved)} in SPRAM "
        f"({cells} of {cells_cap} cells, filled from the flash after reset): in block RAM "
        f"the model needs {model_estimates(network, folding)[0]} of {cap} EBR, now {ebr}")
    return out


def memories_for_board(board, network, folding, log=print):
    """Where ``folding``'s memories go on ``board``: weights to SPRAM when the block RAM
    runs short (:func:`weights_for_board`), then replay buffers to flip-flops when it
    still does (:func:`replay_for_board`)."""
    folding = weights_for_board(board, network, folding, log)
    return replay_for_board(board, network, folding, log)


def _model_cost(board, network, folding):
    """``(cost, folding as built)``: the model's LUT4 plus flip-flops of ``folding`` with
    its memories placed as ``board`` builds them (a logic cell holds one of each, and
    flip-flops that share no cell with their LUT take a cell alone); None when the model's
    block RAM or SPRAM exceed the board's."""
    built = memories_for_board(board, network, folding, log=lambda *_: None)
    ebr, logic = model_estimates(network, built)
    cap = board.capacity
    if ((board.block_ram_model and ebr > cap["ebr"])
            or logic["spram"] > cap.get("spram", 0)):
        return None, built
    return logic["lut4"] + logic["ff"], built


def cheaper_folding(board, network, folding):
    """A folding no slower than ``folding`` that the resource model expects to take fewer
    logic cells on ``board``, or ``folding`` itself.

    The automatic folding takes the fewest lanes, but a lane is not the only cost: each
    PE row has its accumulator and threshold compare, and the streams after it (pool,
    width converter) are PE codes wide, so a layer at 5x8 can be smaller than at 1x32.
    Per layer in turn, with the others fixed, every folding that is the narrowest for its
    PE (the fewest SIMD within the interval) is costed by :func:`_model_cost` and the
    cheapest kept; passes repeat until one changes nothing. The ends of a residual block
    keep their folding (their PE must agree)."""
    graph = StageGraph(network)
    ii = initiation_interval(network, folding)
    fixed = {e for ends in graph.residual_ends() for e in ends}
    plain = [LayerFolding(f.simd, f.pe, f.element) for f in folding]
    best_cost, best = _model_cost(board, network, folding)
    if best_cost is None:
        best_cost, best = float("inf"), folding
    for _ in range(len(plain)):
        changed = False
        for index, stage in enumerate(graph.compute):
            if index in fixed:
                continue
            narrowest = {}
            for f in stage.foldings():
                if stage.vector_cycles(f) <= ii and (f.pe not in narrowest
                                                     or f.simd < narrowest[f.pe].simd):
                    narrowest[f.pe] = f
            for f in sorted(narrowest.values(), key=lambda f: f.pe):
                trial = list(plain)
                trial[index] = f
                trial = choose_elements(network, trial)
                if trial == plain or initiation_interval(network, trial) > ii:
                    continue
                cost, built = _model_cost(board, network, trial)
                if cost is not None and cost < best_cost:
                    best_cost, best, plain, changed = cost, built, trial, True
        if not changed:
            break
    return best


def fit_folding(board_name, network, out, *, baud=None, start_cycles=1024, log=print,
                elements="auto", fallbacks=None):
    """The fastest automatic folding whose synthesised design fits the board.

    Candidates are the automatic foldings (:func:`hdl.flow.folding.auto_folding`) for cycle
    budgets 1, 2, 4, ... up to the slowest folding; fewer cycles mean more lanes and memory words, so
    the resources grow as the budget shrinks. The search starts at ``start_cycles``, then
    steps to ever faster candidates while they fit (or slower ones until one fits), one
    synthesis per step: it never synthesises a design much larger than the answer, which
    a bisection over the whole range would (the fully unrolled first layer alone has
    100,352 lanes). Then up to :data:`REFINE_STEPS` faster foldings between the answer
    and the next candidate are tried: the automatic folding for one cycle under the
    answer's interval speeds up only its slowest layers. Returns ``(folding, used, tried)``.

    ``fallbacks``: a list that receives the slower candidates not ruled out, fastest
    first, as ``(cycles, folding)``: what to build when the answer does not place.
    """
    search = _FitSearch(get_board(board_name), network, Path(out), baud, elements, log)
    index = search.walk(start_cycles)
    index = search.refine(index)
    if fallbacks is not None:
        answer = search.candidates[index][0]
        fallbacks.extend(c for k, c in enumerate(search.candidates)
                         if c[0] > answer and search.results.get(k, (True,))[0])
    return search.candidates[index][1], search.results[index][1], search.tried


# Refinement steps after the doubling search (one synthesis each).
REFINE_STEPS = 3


def _text(folding):
    return ",".join(str(f) for f in folding)


class _FitSearch:
    """The state of one :func:`fit_folding`: the candidates ``(cycles, folding)``, the
    verdict on each one judged (``results``: index -> ``(fits, used)``) and the report's
    ``tried`` list."""

    def __init__(self, board, network, out, baud, elements, log):
        self.board, self.network, self.out, self.baud = board, network, out, baud
        self.elements, self.log = elements, log
        self.clock_hz = board.clock(24e6)["freq_hz"]
        self.tried, self.results = [], {}
        # Budgets up to the slowest folding (one lane per layer). The line need not be the
        # slower side: the host keeps no more requests in flight than the board buffers.
        slowest = initiation_interval(network, [LayerFolding(1, 1)
                                                for _ in StageGraph(network).compute])
        self.candidates = []
        budget = 1
        while budget <= 2 * slowest:
            ii, folding = self.candidate(budget)
            if not self.candidates or self.candidates[-1][1] != folding:
                self.candidates.append((ii, folding))
            budget *= 2

    def candidate(self, budget):
        """``(cycles, folding)``: the automatic folding for ``budget`` as the board builds it."""
        folding = memories_for_board(self.board, self.network,
                                     auto_folding(self.network, budget, self.elements),
                                     log=lambda *_: None)
        return initiation_interval(self.network, folding), folding

    def fits(self, index):
        """Whether candidate ``index`` fits under the board's fill limit (judged once).
        One that does not is replaced by its :func:`cheaper_folding`, when that differs,
        and the verdict is that one's."""
        if index not in self.results:
            self.results[index] = self.by_model(index) or self.by_synthesis(index)
            if not self.results[index][0]:
                ii, folding = self.candidates[index]
                cheaper = cheaper_folding(self.board, self.network, folding)
                if all(cheaper != f for _, f in self.candidates):
                    self.log(f"fit: trying {_text(cheaper)}, the resource model's smallest "
                             f"folding at {ii} cycles")
                    self.candidates[index] = (initiation_interval(self.network, cheaper), cheaper)
                    self.results[index] = self.by_model(index) or self.by_synthesis(index)
        return self.results[index][0]

    def by_model(self, index):
        """``(False, used)`` when the resource model rules the candidate out without
        synthesis (its LUT4, and its EBR where the board's block RAM is modelled)."""
        ii, folding = self.candidates[index]
        board, cap = self.board, self.board.capacity
        ebr, logic = model_estimates(self.network, folding)
        lut4 = logic["lut4"]
        if not board.block_ram_model:
            ebr = 0
        if (ebr <= cap["ebr"] and lut4 <= LUT4_MODEL_MARGIN * cap["lut4"]
                and logic["spram"] <= cap.get("spram", 0)):
            return None
        ebr_text = f"EBR {ebr} of {cap['ebr']}, " if board.block_ram_model else ""
        if logic["spram"]:
            ebr_text += f"SPRAM {logic['spram']} of {cap.get('spram', 0)}, "
        self.log(f"fit: {ii} cycles ({_text(folding)}): does not fit (model: {ebr_text}LUT4 "
                 f"{lut4} of {cap['lut4']}; not synthesised)")
        used = {k: 0 for k in cap}
        used["ebr"], used["lut4"] = ebr, lut4
        if "spram" in used:
            used["spram"] = logic["spram"]
        self.tried.append({"cycles": ii, "folding": [str(f) for f in folding], "fits": False,
                           "used": used, "synthesis_s": 0.0, "from_model": True})
        return False, used

    def by_synthesis(self, index):
        """``(fits, used)`` of the synthesised candidate; a tool failure rules out that
        candidate, not the build."""
        ii, folding = self.candidates[index]
        board = self.board
        try:
            used, seconds = bitstream.synthesize(board.name, self.network, folding,
                                                 self.out / f"fit{len(self.tried)}",
                                                 baud=self.baud, clock_hz=self.clock_hz,
                                                 log=self.log)
        except BoardBuildError as error:
            self.log(f"fit: {ii} cycles ({_text(folding)}): {error}; trying the next candidate")
            self.tried.append({"cycles": ii, "folding": [str(f) for f in folding],
                               "fits": False, "error": str(error)})
            return False, None
        ok = not over_capacity(used, board.capacity)
        full = [f"{k.upper()} {used[k]} over {100 * frac:.0f} % of {board.capacity[k]}"
                for k, frac in board.fit_fill.items() if used.get(k, 0) > frac * board.capacity[k]]
        self.tried.append({"cycles": ii, "folding": [str(f) for f in folding],
                           "fits": ok and not full, "used": used,
                           "synthesis_s": round(seconds, 1)})
        verdict = ("does not fit" if not ok else
                   f"fits, but {', '.join(full)} (slow to place and route; the automatic "
                   f"folding stays below)" if full else "fits")
        packed = (board.packed_cell or (None, None))[1]
        cells = f", {packed.upper()} {used[packed]}" if packed in used else ""
        self.log(f"fit: {ii} cycles ({_text(folding)}): {verdict} (LUT4 {used['lut4']}, "
                 f"EBR {used['ebr']}{cells})")
        return ok and not full, used

    def walk(self, start_cycles):
        """The index of the fastest fitting candidate, stepping from the one nearest
        ``start_cycles``; raises when none fits."""
        candidates = self.candidates
        index = min(range(len(candidates)), key=lambda k: abs(candidates[k][0] - start_cycles))
        if self.fits(index):
            while index > 0 and self.fits(index - 1):
                index -= 1
            return index
        while index < len(candidates) - 1 and not self.fits(index + 1):
            index += 1
        if index + 1 < len(candidates):
            return index + 1
        return self.none_fits()

    def none_fits(self):
        """Over the fill limit everywhere: the slowest candidate within the chip, else an
        error naming the closest one."""
        cap = self.board.capacity
        within = [k for k, (_, used) in self.results.items()
                  if used and not over_capacity(used, cap)]
        if within:
            index = max(within)
            self.log(f"fit: no folding stays under the fill limit; taking the slowest, "
                     f"{self.candidates[index][0]} cycles (it fits, place and route will be "
                     f"slow)")
            return index
        measured = [t for t in self.tried if t.get("used")]
        if not measured:
            raise BoardBuildError(f"no folding of this model could be synthesised for the "
                                  f"{self.board.device}: {self.tried[-1]['error']}")
        closest = min(measured, key=lambda t: max(v / cap[k] for k, v in t["used"].items()))
        over = [f"{k.upper()} {v} of {cap[k]}" for k, v in over_capacity(closest["used"], cap)]
        raise BoardBuildError(f"no folding of this model fits the {self.board.device}: the "
                              f"closest ({closest['cycles']} cycles, "
                              f"{','.join(closest['folding'])}) needs {', '.join(over)}")

    def refine(self, index):
        """Budgets double, so the answer's interval can be up to twice the next
        candidate's: its slowest layers get the next faster folding (the budget just
        under its interval) while that fits and is not a candidate already tried."""
        if index in self.results and not self.results[index][0]:
            return index        # the slowest within the chip, over the fill limit
        for _ in range(REFINE_STEPS):
            ii = self.candidates[index][0]
            finer_ii, finer = self.candidate(ii - 1)
            if finer_ii >= ii or any(finer == f for _, f in self.candidates):
                break
            self.candidates.append((finer_ii, finer))
            if not self.fits(len(self.candidates) - 1):
                break
            index = len(self.candidates) - 1
        return index
