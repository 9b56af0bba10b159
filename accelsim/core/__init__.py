"""Plumbing every stage uses: atomic files and content keys, reading user files safely,
config schemas, progress reporters and thread counts. Imports nothing else of accelsim
but errors and defaults."""
