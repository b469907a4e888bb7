"""The one exception type the command line turns into a one-sentence message."""


class GanforgeError(Exception):
    """A user-facing error: one sentence naming the bad value and what was expected."""
