"""Presentation: how results look on a terminal (Rich tables, panels, strips, the demo's
chapters) and the JSON columns each command's TSV and panels use. Built on `output` (emit,
Column, consoles) and `tables` (FitTable); imported by commands and the demo, never by the
core. Rich is imported inside functions only (`wxshop --help` imports none of it)."""
