"""Errors a user can cause. The CLI prints their message as one sentence, never a traceback."""


class EurekaError(Exception):
    """A problem with the user's input (config, task folder, reward file) that they can fix.

    The message says what is wrong and what to do about it.
    """
