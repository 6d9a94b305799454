"""The training configuration every recipe derives from a budget's hyper-parameters (one place, not three)."""
from __future__ import annotations

from ..train import TrainConfig

# The learning-rate schedule's fields of TrainConfig, which a budget may set (Neighbor2Neighbor's paper budget
# steps the rate down where the others ramp it).
SCHEDULE = ("rampup_fraction", "rampdown_fraction", "lr_milestones", "lr_decay")


def train_config(hp: dict, **optimiser) -> TrainConfig:
    """``TrainConfig`` for a budget ``hp`` (its ``iterations``, ``batch_size``, ``val_every``, and whichever of
    :data:`SCHEDULE` it sets) and a method's optimiser (keyword arguments, which win over ``hp``).

    Checkpoints at every validation (at least every 10 steps, so a smoke run checkpoints too) and logs
    the loss every 50 steps or at every validation when that is more often.

    >>> c = train_config({"iterations": 20, "batch_size": 4, "val_every": 5}, lr=1e-3, seed=3)
    >>> c.checkpoint_every, c.log_every, c.seed
    (10, 5, 3)
    >>> train_config({"iterations": 20, "batch_size": 4, "val_every": 5, "rampdown_fraction": 0.0,
    ...               "lr_milestones": (0.5,)}, lr=1e-3).lr_milestones
    (0.5,)
    """
    schedule = {key: hp[key] for key in SCHEDULE if key in hp}
    settings = {"iterations": hp["iterations"], "batch_size": hp["batch_size"], **schedule, **optimiser}
    return TrainConfig(**settings, val_every=hp["val_every"], checkpoint_every=max(hp["val_every"], 10),
                       log_every=min(50, hp["val_every"]))
