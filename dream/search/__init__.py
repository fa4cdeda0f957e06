"""`dream search`: multi-objective, multi-fidelity design-space search over a sweep's grid (Optuna ask-and-tell)."""
