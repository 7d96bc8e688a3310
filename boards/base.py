"""What the bitstream flow asks of a board: :class:`Board`."""

__all__ = ["Board"]


class Board:
    """A board the flow builds for: one subclass per board file, its facts as typed
    attributes, its choices as methods. The flow asks these, never the board's name.

    Attributes
    ----------
    name : str
        The ``--board`` name.
    device : str
        The FPGA, as error messages and reports name it.
    family : str
        Its Yosys family: ``synth_<family>`` synthesises for it (``ice40``, ``ecp5``).
    capacity : dict of str to int
        Cells a design may use, by the keys :meth:`summary` gives.
    bitstream : str
        The bitstream file's extension.
    tools : dict of str to str
        The command each amaranth-boards build step names, as installed (YoWASP).
    packed_cell : (str, str) or None
        nextpnr's packed logic cell and the key its count is reported under: packing
        (seconds) decides whether LUT4 and flip-flops fit together.
    fit_fill : dict of str to float
        The automatic folding keeps each of these resources at or below this fraction of
        its capacity, where place and route stays quick.
    flash_offset : int or None
        Byte address in the configuration flash where SPRAM weights are kept (after the
        bitstream, in the same programming file); None: the board keeps none.
    placement : tuple of (list of str, float or None) or None
        nextpnr attempts while placement fails: extra options and a time limit in seconds
        (None: the flow's default seeds).
    retry_gain : float or None
        A run that meets timing is followed by one at its Fmax when that is at least this
        factor faster (None: the flow's default).
    miss_step : float or None
        After a clock is missed from every seed, the next is this fraction below the best
        Fmax they reached, placed first with that seed's options (None: the flow's 3 %,
        from the board's first placement attempt). For a placer whose result does not
        depend on the target clock, so that a clock just below a reached Fmax passes.
    reach : float or None
        After a run that meets timing, the next may aim up to this fraction above its
        Fmax, when a clock there carries more images per second end to end (a faster UART
        rate): other seeds place the same netlist a few percent faster (None: aim at the
        Fmax reached).
    slow_route : (str, float, str) or None
        A resource, a fraction of its capacity above which place and route is slow, and
        what to expect: the build says so before place and route starts.
    synth_fallback : (str, str) or None
        Synthesis options to retry with after a synthesis failure, and why.
    block_ram_model : bool
        The flow's block-RAM model (:mod:`hdl.flow.resources`, 4-kbit iCE40 EBR) applies.
    max_baud : int
        The fastest rate the board's USB UART bridge carries.
    programmer : str
        The command that loads the bitstream.
    serial_port : str
        The UART the accelerator answers on, as the host sees it.
    """

    name = ""
    device = ""
    family = ""
    capacity = {}
    bitstream = ""
    tools = {}
    packed_cell = None
    fit_fill = {}
    placement = None
    retry_gain = None
    reach = None
    miss_step = None
    slow_route = None
    synth_fallback = None
    block_ram_model = False
    flash_offset = None
    max_baud = 3_000_000
    programmer = ""
    serial_port = ""

    def platform(self):
        """A fresh amaranth-boards platform of the board."""
        raise NotImplementedError

    def clock(self, target_hz):
        """The PLL settings for the highest clock at or below ``target_hz``: a dict with
        ``freq_hz`` and ``source``; ``ValueError`` when no setting reaches it."""
        raise NotImplementedError

    def top(self, make_core, clock):
        """The board top around ``make_core(clock_hz)`` at ``clock`` (:meth:`clock`)."""
        raise NotImplementedError

    def summary(self, counts):
        """Resources used, by the keys of :attr:`capacity`, from Yosys's cell counts."""
        raise NotImplementedError
