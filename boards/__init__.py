"""Board files: thin wrappers that wire a network top to a board's I/O and clocks."""
