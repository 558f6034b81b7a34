"""Steps 03-04: the networks, their training, and one arm end to end; predict and Grad-CAM."""
import importlib

_SUBMODULES = ("arm_inputs", "arms", "budget", "checkpoint", "execution", "figures", "gradcam", "models",
               "planning", "predict", "probe", "training", "training_state", "weights")


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
