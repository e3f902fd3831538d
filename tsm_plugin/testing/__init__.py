"""Inputs for tests, demos and benchmarks (as ``mmaction.testing``): a
synthetic SSv2-format set of real ``.webm`` videos and fake batches.
Nothing in training imports it."""
