"""Errors raised at the configuration edge."""

from __future__ import annotations


class ConfigError(ValueError):
    """A config or spec value is invalid; names the config path and what is allowed."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.message = message
        super().__init__(f"{path}: {message}" if path else message)
