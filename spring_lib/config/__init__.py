"""The profile: its schema (`schema`) and how a YAML file becomes one validated `StudyConfig`
(`loading`)."""
from .loading import load_config, params_dir, profile_path
from .schema import ConfigError, GLCMConfig, Recipe, StudyConfig

__all__ = ["ConfigError", "GLCMConfig", "Recipe", "StudyConfig", "load_config", "params_dir",
           "profile_path"]
