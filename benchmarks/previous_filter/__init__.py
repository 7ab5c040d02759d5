"""A frozen copy of the text filter as it was released before game-context moderation
(normalisation, word lists, matcher and personal-data patterns), kept so the moderation
benchmark can print today's figures next to the previous release's on the same lines.
Not imported by the package; not maintained."""

from .textfilter import TextFilter

__all__ = ["TextFilter"]
