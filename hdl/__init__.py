"""Amaranth HDL 0.5 components of the streaming BNN accelerator, generated from golden models."""
