"""What the machines run: the trace format (the contract between training and simulation),
exact MAC counts, synthetic traces, SCALE-Sim topologies and trace summaries.
Imports core only; never torch."""
