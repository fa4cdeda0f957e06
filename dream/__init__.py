"""dream: simulate and sweep real-time multi-model ML scheduling on multi-accelerator systems."""
