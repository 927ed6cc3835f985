"""Run folders and everything saved in them: the folder layout and manifest,
checkpoints, shareable bundles, the index of runs, the lock a live run holds,
forking a run, and the check that saved weights are finite."""
