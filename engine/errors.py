"""Errors the engine raises for bad input; each message is meant for a person."""


class AtelierError(Exception):
    """Base class: the message says what is wrong and, where it helps, what to do."""


class ConfigError(AtelierError, ValueError):
    """A setting is impossible (batch size 0, image size 7, ...)."""


class DataError(AtelierError):
    """A data set could not be found or read."""


class RunDirError(AtelierError):
    """A run directory cannot be created, written or read."""
