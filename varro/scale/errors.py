"""What goes wrong when the coordination service does."""


class Unavailable(Exception):
    """The coordination service can't be reached: no session can be taken safely."""
