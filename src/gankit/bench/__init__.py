"""`gankit bench`: training throughput of gankit's loop against the PyTorch DCGAN example's loop
on the same data and networks, in one invocation, with achieved GFLOP/s and peak memory."""
