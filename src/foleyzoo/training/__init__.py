"""What trains the parts: the LightningModules that implement no part interface of their own (flow
matching for the denoiser, sync and contrastive pre-training for the encoders, the toy flow), their
objectives, evaluation adapters and callbacks, and the LightningCLI behind ``foleyzoo fit``.

A LightningModule that *is* a part (``MelVAE`` is an :class:`~foleyzoo.api.AudioCodec`) lives with
that part's family instead; see the layout in ``docs/concepts.md``. Import the submodules themselves
(``foleyzoo.training.flow_matching``): this package re-exports nothing, so a stored class path names
the module that defines the class.
"""
