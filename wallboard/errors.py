"""The project's errors: one tree, so a caller can catch what the project raises and nothing else.

``WallboardError`` is the root. Its ``exit_code`` is the status the ``wallboard`` command exits with
when the error reaches it (the CLI maps them in one place, ``wallboard.cli.main``), after printing the
message in one line: the message is written for the person who has to fix it.

- ``UsageError`` (exit 2): a setting, an option or an input file is wrong; nothing was done.
- ``InputFormatError`` (exit 3): an input file was read but is not in the format it was read as.
- ``StartupError`` (exit 1): a part cannot start (a port taken, no Redis binary, a refused login).
- everything else (exit 1): the operation failed; the message says why.

Every layer may import this module; it imports nothing of the project.
"""

from __future__ import annotations

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INPUT_FORMAT = 3


class WallboardError(Exception):
    """The root of every error the project raises."""

    exit_code: int = EXIT_FAILED


class UsageError(WallboardError):
    """A setting, option or input is wrong: the user fixes it and runs the command again."""

    exit_code = EXIT_USAGE


class InputFormatError(WallboardError):
    """An input file was read but nearly nothing in it is in the format it was read as."""

    exit_code = EXIT_INPUT_FORMAT


class StartupError(WallboardError):
    """A part cannot start: a port, a binary, a server or a login it needs is not there."""
