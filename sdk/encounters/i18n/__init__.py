"""Languages: tag resolution, language detection and the CLI's message catalogs."""

from .tags import NAMES, SUPPORTED, canonical, resolve, resolve_or_english

__all__ = ["NAMES", "SUPPORTED", "canonical", "resolve", "resolve_or_english"]
