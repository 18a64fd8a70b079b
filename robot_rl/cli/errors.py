"""Errors of the command line layer."""


class CommandError(Exception):
    """A user-facing error raised by a command handler: printed without a traceback."""
