"""Results tables (CSV/Parquet with provenance sidecars), summaries and plots of what
the simulator computed."""
