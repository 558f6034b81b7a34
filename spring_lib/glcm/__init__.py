"""Step 02: the classical arms: GLCM texture features with the tuned GLCM+SVM pipeline, and
the pixel-size floor. Importing the package registers their runners (`core.arm_kinds`) and
notebook 02's units of cost (`core.costs`)."""
from ..core import products
from ..core.arm_kinds import register_runner
from ..core.costs import register as register_cost
from ..core.lazy import lazy_function, submodule_loader

__getattr__ = submodule_loader(__name__, (
    "costs", "features", "figures", "pixel_size", "svm"))

register_runner("GLCM+SVM", lazy_function(__name__, "svm", "run_glcm_arm"))
register_runner("pixel-size", lazy_function(__name__, "pixel_size", "run_pixel_size_arm"))
register_cost(products.GLCM, lazy_function(__name__, "costs", "glcm_costs"))
