"""Stage 02: GLCM texture features and the tuned GLCM+SVM pipeline."""
from . import features, svm  # noqa: F401
