"""Languages: tag resolution, language detection, translation and the CLI's message
catalogs (see docs/languages.md)."""

from .tags import NAMES, SUPPORTED, canonical, resolve, resolve_or_english

__all__ = ["NAMES", "SUPPORTED", "canonical", "resolve", "resolve_or_english"]
