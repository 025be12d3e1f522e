"""Errors a user can cause: the CLI prints their message as one line and exits with status 2."""


class UserError(Exception):
    """A problem with the user's input or configuration, stated so that they can fix it."""
