"""Models, data, pruning (WP, JP, static-act), checkpoints and trace capture: the only
folder that imports torch (the `train` extra). Writes traces (workload); never imports
the simulator. train_config is torch-free, so `accelsim.TrainConfig` loads without torch."""
