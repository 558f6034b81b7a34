"""Steps 03-04: the networks, their training, and one arm end to end; predict and Grad-CAM."""
from ..core.lazy import submodule_loader

__getattr__ = submodule_loader(__name__, (
    "arm_inputs", "arms", "budget", "checkpoint", "execution", "figures", "gradcam", "models",
    "planning", "predict", "probe", "training", "training_state", "weights"))
