"""Step 02: the classical arms: GLCM texture features with the tuned GLCM+SVM pipeline, and
the pixel-size floor."""
from ..core.lazy import submodule_loader

__getattr__ = submodule_loader(__name__, (
    "features", "figures", "pixel_size", "svm"))
