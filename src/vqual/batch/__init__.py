"""Scoring libraries of media files on Ray Data (`vqual batch`): resumable, every input one row, none twice.

`vqual.batch.run.run_batch` drives a run (listing: `vqual.batch.listing`; the actors: `vqual.batch.worker`; rows
and shards, and `read_results` to read an output back: `vqual.batch.rows`). Needs the ``vqual[batch]`` extra (ray,
pyarrow); importing this package does not import either.
"""
