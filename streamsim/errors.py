"""User-facing errors: each names what is wrong, so commands can print one line and exit 2."""

from __future__ import annotations


class StreamsimError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug."""


class ConfigError(StreamsimError, ValueError):
    """An event-source-mapping, filter, rule or run configuration is invalid."""


class PlayValidationError(StreamsimError, ValueError):
    """A play result (API input) is invalid; the message names the field."""


class EventParseError(StreamsimError, ValueError):
    """A stream record or Lambda event is not what a handler expects."""


class RunFolderError(StreamsimError):
    """A run folder is missing, partial or corrupted."""


class BackendError(StreamsimError):
    """The DynamoDB-compatible backend cannot be started, reached, or is refused for safety."""
