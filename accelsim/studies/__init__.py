"""Whole jobs built from the stages: compare and demo, sweeps, Pareto studies, validation
against the papers, and the job runner (processes or Dask) they share."""
