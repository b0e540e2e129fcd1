"""The error the command raises for a user's mistake that no library layer reports itself."""

from __future__ import annotations

from .._errors import ConfigError

__all__ = ["CliError", "ConfigFileError"]


class CliError(ValueError):
    """A command-line mistake found after argument parsing (a missing checkpoint,
    contradicting options...). The command prints its message and exits with 1."""


class ConfigFileError(ConfigError):
    """An invalid TOML run configuration.

    The message starts with the file and the full dotted key at fault, e.g.
    ``run.toml: layers[2].activation: unknown value 'rellu'; allowed: elu, gelu, ...``.

    Attributes:
        detail: the message without the file and key.
        key: the dotted key (``""`` for the file as a whole).
        file: the config file, when known.
    """

    def __init__(self, message: str, *, key: str = "", file=None):
        where = ": ".join(str(part) for part in (file, key) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.detail = message
        self.key = key
        self.file = file

    def in_file(self, file) -> "ConfigFileError":
        """The same error, its message prefixed with ``file``."""
        return ConfigFileError(self.detail, key=self.key, file=file)
