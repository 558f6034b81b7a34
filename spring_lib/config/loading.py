"""Reading a profile: `params/<profile>.yaml` (or a path) -> one validated `StudyConfig`.

Errors name the file and the key, so a typo fails before any work starts.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..core.paths import project_root
from .base import ConfigError
from .schema import PROFILE_NAME, StudyConfig

PARAMS_DIR_ENV = "SPRING_PARAMS_DIR"


def params_dir() -> Path:
    return Path(os.environ.get(PARAMS_DIR_ENV) or project_root() / "params")


def profile_path(profile: str | Path) -> Path:
    """The YAML file of a profile. Every `profile` argument of the study means the same: a name
    (`cpu`: params/cpu.yaml) or the path of a YAML file; this is where either is resolved."""
    p = Path(profile)
    if p.suffix in (".yaml", ".yml"):
        return p
    if not PROFILE_NAME.match(str(profile)):
        raise ConfigError(f"'{profile}' is neither a profile name in {params_dir()} nor a .yaml file")
    candidate = params_dir() / f"{profile}.yaml"
    if not candidate.exists():
        known = sorted(x.stem for x in params_dir().glob("*.yaml"))
        raise ConfigError(f"no profile '{profile}' in {params_dir()} (known: {', '.join(known)})")
    return candidate


class _ProfileLoader(yaml.SafeLoader):
    """YAML with two safeguards: a key given twice is an error (the second would silently
    win), and `1e-3` is a number as in YAML 1.2 (PyYAML alone reads it as a string)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}'", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_ProfileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"), list("-+0123456789."))


def _check_weights_paths(cfg: StudyConfig, path: Path) -> None:
    for arch in cfg.cnn.weights:
        source = cfg.weights_for(arch)
        if source not in ("imagenet", "package") and not Path(source).exists():
            raise ConfigError(f"{path}: cnn.weights.{arch}: {source!r} is neither 'imagenet', "
                              "'package' nor an existing weights file or folder")


def _check_name_is_its_own(cfg: StudyConfig, path: Path) -> None:
    """Results go to results/<profile>/: a file naming itself after another shipped profile
    would overwrite that profile's results."""
    shipped = params_dir() / f"{cfg.profile}.yaml"
    if shipped.exists() and shipped.resolve() != path.resolve():
        raise ConfigError(f"{path}: profile '{cfg.profile}' is the name of {shipped}; give this "
                          "file another name (or a `profile:` key) so it cannot overwrite "
                          f"results/{cfg.profile}/")


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def load_config(profile: str | Path = "cpu") -> StudyConfig:
    """Parse and validate a profile (a name or a path, see `profile_path`). A run does this once;
    its notebooks read the run's snapshot (`config.snapshot`)."""
    path = profile_path(profile)
    if not path.exists():
        raise ConfigError(f"profile file {path} does not exist")
    try:
        raw = yaml.load(path.read_text(), Loader=_ProfileLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:   # an empty file (or only comments): most likely a mistake, and a costly one
        raise ConfigError(f"{path}: the profile is empty, which would run the paper's whole "
                          "protocol; write the settings to change, or `{}` to run the defaults")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: must be a mapping of sections, got {type(raw).__name__}")
    raw.setdefault("profile", path.stem)
    try:
        cfg = StudyConfig.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(x) for x in err["loc"] if not str(x).startswith(("function-", "literal[")))
            msg = err["msg"].removeprefix("Value error, ")
            if not key and msg.startswith("profile name"):   # the check runs on the whole profile
                key = "profile"
            got = err.get("input")
            # a section's whole content is no help: show only a value, and a short one
            shown = "" if isinstance(got, dict) else f" (got {_short(got)})"
            if err["type"] == "extra_forbidden":
                lines.append(f"{path}: {key}: unknown key (check its spelling and section)")
            else:
                lines.append(f"{path}: {key or '<top>'}: {msg}{shown}")
        raise ConfigError("\n".join(dict.fromkeys(lines))) from None
    cfg._source = path
    _check_name_is_its_own(cfg, path)
    _check_weights_paths(cfg, path)
    return cfg
