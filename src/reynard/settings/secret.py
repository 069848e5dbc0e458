"""A credential read from the settings, which never shows itself in `repr`, `str` or f-strings."""

from __future__ import annotations


class Secret:
    """Call `reveal()` to use the value; everything else sees `Secret('**********')`."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"{type(self).__name__}('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
