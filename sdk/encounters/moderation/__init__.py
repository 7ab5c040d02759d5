"""Moderation and safety: what a persona may say and do.

- :class:`ContentModerator` decides on messages and actions for a persona;
- :class:`TextFilter` finds profanity, blocked topics and personal data, and masks them;
- :class:`InProcessRateLimiter` (GCRA) limits anything by key; :class:`RedisRateLimiter`
  is the same GCRA in Redis, shared by several daemon nodes (:func:`shared_limiter`);
- :class:`AuditLogger` keeps every decision, append-only, for replay;
- :class:`TopicModel` is the offline statistical topic layer after the word lists;
- :class:`OpenAIModerationClassifier` is an optional provider-backed topic classifier
  (:func:`provider_classifiers` builds it from settings).
"""

from ..settings import ModerationSettings
from .audit import AuditLogger, redact
from .classifiers import OpenAIModerationClassifier, TopicClassifier, provider_classifiers
from .moderator import ActionDecision, ContentModerator, ModerationResult
from .ratelimit import InProcessRateLimiter, Rate, RateDecision, RateLimiter
from .redis_ratelimit import RedisRateLimiter, shared_limiter
from .textfilter import Hit, TextFilter
from .topicmodel import TopicModel

__all__ = [
    "ActionDecision",
    "AuditLogger",
    "ContentModerator",
    "Hit",
    "InProcessRateLimiter",
    "ModerationResult",
    "ModerationSettings",
    "OpenAIModerationClassifier",
    "Rate",
    "RateDecision",
    "RateLimiter",
    "RedisRateLimiter",
    "TextFilter",
    "TopicClassifier",
    "TopicModel",
    "provider_classifiers",
    "redact",
    "shared_limiter",
]
