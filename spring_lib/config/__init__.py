"""The profile: its schema (`schema`, with the network recipes in `recipe`), how a YAML file becomes
one validated `StudyConfig` (`loading`), and the run's one copy of it that every notebook of the
run reads (`snapshot`)."""
from .base import ConfigError
from .loading import load_config, params_dir, profile_path
from .recipe import Recipe
from .schema import GLCMConfig, StudyConfig
from .snapshot import SNAPSHOT_FILE, read_snapshot, snapshot, write_snapshot

__all__ = ["ConfigError", "GLCMConfig", "Recipe", "SNAPSHOT_FILE", "StudyConfig", "load_config",
           "params_dir", "profile_path", "read_snapshot", "snapshot", "write_snapshot"]
