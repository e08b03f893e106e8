"""Reading and writing files safely: atomic outputs, media through PyAV, checkpoints and weights without
running code from them, and the hyper-parameters a checkpoint is rebuilt from."""
