"""Flow matching: the training objective, timestep distributions and classifier-free guidance."""

from __future__ import annotations

from foleyzoo.flow.objective import (
    classifier_free_guidance,
    flow_matching_loss,
    interpolate,
    logit_normal_timesteps,
)

__all__ = ["classifier_free_guidance", "flow_matching_loss", "interpolate", "logit_normal_timesteps"]
