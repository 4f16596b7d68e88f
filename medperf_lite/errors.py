"""The one error type: every refusal or user mistake raises it, the CLI prints one line."""


class MedperfError(Exception):
    """A refused action or a user mistake, with a message meant for the user."""

    exit_code = 1
    failure = None  # a diagnosis.Failure when a container task failed

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Refused(MedperfError):
    """The server's rules refused an action; nothing was changed."""


class Forbidden(Refused):
    """Refused because of who asked: the message names who may; the CLI adds who you are."""
