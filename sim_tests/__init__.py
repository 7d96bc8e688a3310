"""cocotb + Verilator tests of the generated Verilog against golden/."""
