"""What every section of a profile shares: strict, frozen, no unknown keys; and the one error a
profile that cannot run raises."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigError(ValueError):
    """A profile (or its combination with the data) that cannot run."""


class Section(BaseModel):
    # strict: `epochs: true` or `seed: "0"` is an error, not silently 1 or 0
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
