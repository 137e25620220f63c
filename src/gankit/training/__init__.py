"""The training loop, its checkpoints and the hooks that log, draw and save around it."""
