"""The simulator: machine configs, the machine models (machines/) and their Numba kernels,
the memory system and the energy model. Reads traces (workload) and core; never torch."""
