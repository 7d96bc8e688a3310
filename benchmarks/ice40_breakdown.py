"""Where the logic of a board design goes: LUT4, carries, flip-flops and block RAMs per stage.

    python -m benchmarks.ice40_breakdown [--model models/mnist_bcnn.npz]
                                         [--folding 5x16,16x16,2x2] [--out build/bench/breakdown]

Elaborates the iCEBreaker design (UART, deframer, frame buffer, unpacker, the network's
stages, answer framer) at a folding, without place and route, and measures it the way
every board build's report does (:func:`hdl.flow.breakdown.stage_breakdown`: one
synthesis with the hierarchy kept, LUTs by classic ABC), then synthesises the whole design
flattened with ABC9 as the build does. The stages' total is above the flattened count by
the optimisation across stage boundaries (printed as the difference). The matrix-vector
units' share of the LUT4 is the arithmetic's share.
"""

import json
from pathlib import Path

from boards import board as get_board
from golden.cli import ArgumentParser, out_path, run_cli
from golden.formats import load_model
from hdl.flow.bitstream import _fastest_link_clock, _top_name, board_core, synthesize
from hdl.flow.breakdown import breakdown_table, stage_breakdown
from hdl.flow.build import DEFAULT_MODEL, choose_folding
from hdl.stages import initiation_interval

CNN = DEFAULT_MODEL.parent / "mnist_bcnn.npz"


def breakdown(network, folding, out, clock_hz=45e6):
    """``{"model", "folding", "breakdown", "flattened"}`` of the iCEBreaker design."""
    board = get_board("icebreaker")
    clock = _fastest_link_clock(board, clock_hz, network, initiation_interval(network, folding),
                                None)
    top = board.top(board_core(board, network, folding, None), clock)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    board.platform().prepare(top, name=_top_name(board)).extract(str(out / "stages"))
    stages = stage_breakdown(board, out / "stages")
    flat, seconds = synthesize("icebreaker", network, folding, out / "flat",
                               clock_hz=clock["freq_hz"])
    return {"model": network.name, "folding": [str(f) for f in folding], "breakdown": stages,
            "flattened": flat, "flattened_synthesis_s": round(seconds, 1)}


def main(argv=None, prog="python -m benchmarks.ice40_breakdown"):
    parser = ArgumentParser(prog=prog, description=__doc__.split("\n")[0],
                            examples=[f"{prog}", f"{prog} --folding 5x16,16x16,2x2"])
    parser.add_argument("--model", default=str(CNN),
                        help="model (default: models/mnist_bcnn.npz, the CNN without a hidden "
                             "layer)")
    parser.add_argument("--folding", default="5x16,16x16,2x2",
                        help="folding (default 5x16,16x16,2x2, that model's no-option build's)")
    parser.add_argument("--out", type=out_path, default="build/bench/breakdown",
                        help="working folder; breakdown.json goes there "
                             "(default build/bench/breakdown)")
    args = parser.parse_args(argv)
    network = load_model(args.model)
    folding = choose_folding(network, args.folding, None, "auto")
    figures = breakdown(network, folding, args.out)
    for line in breakdown_table(figures["breakdown"]):
        print(line)
    flat = figures["flattened"]
    print(f"{'flattened (as built)':<24}{flat['lut4']:>7}{flat['carry']:>7}{flat['ff']:>7}"
          f"{flat['ebr']:>7}")
    (Path(args.out) / "breakdown.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    run_cli(main)
