"""Sweeps: a spec (sweeps/*.yaml) expanded to points, run on Ray or serially, into one Parquet dataset.

Modules, in pipeline order: spec (parsing, Hydra's grammar, expansion), resolve (compose
each group combination once, patch scalars), keys (run keys), plan (expand + key +
validate), worker (simulate a chunk), executors (serial, Ray), sink (Parquet writer),
runner (orchestration), gather (Hydra multirun dirs to rows), submit (Ray jobs), cli.
"""
