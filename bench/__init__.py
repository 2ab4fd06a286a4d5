"""Harness: training, sweeps, tracking and the command line. Heavy imports stay lazy."""
