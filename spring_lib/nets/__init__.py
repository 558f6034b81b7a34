"""Steps 03-04: the networks, their training, and one arm end to end; predict and Grad-CAM.
Importing the package registers the probe, TL and scratch runners (`core.arm_kinds`) without
loading torch: their module loads when an arm runs."""
from ..core import products
from ..core.arm_kinds import register_runner
from ..core.costs import register as register_cost
from ..core.lazy import lazy_function, submodule_loader

__getattr__ = submodule_loader(__name__, (
    "arm_inputs", "arms", "checkpoint", "costs", "execution", "figures", "fusion", "gradcam", "hub",
    "inference", "models", "phase_map", "planning", "predict", "predict_cli", "probe",
    "timing", "training", "training_state", "weights"))

register_runner("probe", lazy_function(__name__, "arms", "run_probe_arm"))
register_runner("TL", lazy_function(__name__, "arms", "run_network_arm"))
register_runner("scratch", lazy_function(__name__, "arms", "run_network_arm"))
register_runner("fused", lazy_function(__name__, "fusion", "run_fused_arm"))
register_cost(products.TRANSFER, lazy_function(__name__, "fusion", "fused_costs"))
