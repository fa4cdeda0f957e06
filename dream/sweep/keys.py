"""Run keys: a content hash of a resolved config and the package version.

The key is a hash over per-section digests (one per top-level config key), so a point
that patches only `sim` re-serialises only `sim`: expanding 100,000 points stays fast,
and the key is still a pure function of the resolved config's content.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping

import dream

KEY_SCHEME = "dream-run-key-1"


def _default(obj: Any) -> Any:
    # resolved configs are plain containers; anything else is hashed by its text
    return repr(obj)


def canonical_json(value: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, floats in shortest round-trip form."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=True, default=_default)


def section_digest(value: Any) -> str:
    """The digest of one top-level config section."""
    return hashlib.blake2b(canonical_json(value).encode(), digest_size=16).hexdigest()


def key_from_digests(digests: Mapping[str, str], version: str | None = None) -> str:
    """Combine per-section digests (and the package version) into a run key."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{KEY_SCHEME}\n{version or dream.__version__}\n".encode())
    for name in sorted(digests):
        h.update(f"{name}={digests[name]}\n".encode())
    return h.hexdigest()


def run_key(config: Mapping[str, Any], version: str | None = None) -> str:
    """The run key of a resolved config (a plain mapping, as OmegaConf.to_container gives)."""
    return key_from_digests({str(k): section_digest(v) for k, v in config.items()}, version)

