"""Topic classifiers beyond the word lists: an interface, and OpenAI's moderation
endpoint behind it (off by default; it sends chat text to OpenAI).

A classifier answers which topics a text touches. The moderator asks classifiers only
about text the offline layers (word lists, topic model) let through, so a paid
classifier is not called for what they already block. Each call is bounded by
``ModerationSettings.provider_timeout``; when it fails or is too slow the offline
decision stands (or the message is blocked, with ``on_provider_failure="block"``).
``provider_classifiers`` builds the configured one (``AE_MODERATION__PROVIDER=openai``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..settings import LLMSettings, ModerationSettings

#: OpenAI moderation categories -> our topics.
OPENAI_TOPICS = {
    "sexual": "sexual",
    "sexual/minors": "sexual",
    "hate": "hate",
    "hate/threatening": "hate",
    "harassment/threatening": "violence",
    "self-harm": "self_harm",
    "self-harm/intent": "self_harm",
    "self-harm/instructions": "self_harm",
    "violence": "violence",
    "violence/graphic": "violence",
}


class TopicClassifier(Protocol):
    """A classifier that holds a connection may also have ``async def aclose()``:
    :meth:`ContentModerator.aclose` calls it."""

    name: str

    async def classify(self, text: str) -> set[str]:
        """The topics ``text`` touches (names as in ``BUILTIN_TOPICS``)."""
        ...


class OpenAIModerationClassifier:
    """Asks OpenAI's ``/v1/moderations`` endpoint through the official client.

    ``client`` is an ``openai.AsyncOpenAI`` (build it with ``max_retries=0`` and a short
    timeout: a slow classifier must not hold a chat message for long). Errors
    propagate; the moderator decides what a failed check means (it blocks). The
    classifier owns the client: :meth:`aclose` (or the moderator's) closes it, on the
    event loop that used it.
    """

    name = "openai-moderation"

    def __init__(self, client: Any, model: str = "omni-moderation-latest") -> None:
        self.client = client
        self.model = model

    async def classify(self, text: str) -> set[str]:
        response = await self.client.moderations.create(model=self.model, input=text)
        topics: set[str] = set()
        for result in response.results:
            flags = result.categories.model_dump(by_alias=True)
            topics |= {OPENAI_TOPICS[k] for k, v in flags.items() if v and k in OPENAI_TOPICS}
        return topics

    async def aclose(self) -> None:
        """Close the client's connections. A client left open is closed by the garbage
        collector on whatever event loop runs then, which fails if its own has ended."""
        await self.client.close()


def provider_classifiers(moderation: ModerationSettings, llm: LLMSettings) -> list[TopicClassifier]:
    """The provider stage ``moderation.provider`` names (none when unset), built from the
    LLM settings' key and base URL. Raises :class:`ConfigError` when it cannot be."""
    if moderation.provider is None:
        return []
    if llm.openai_api_key is None:
        raise ConfigError("AE_MODERATION__PROVIDER=openai needs OPENAI_API_KEY")
    import openai

    client = openai.AsyncOpenAI(
        api_key=llm.openai_api_key.get_secret_value(),
        base_url=llm.openai_base_url,
        max_retries=0,  # a retry would outlast the timeout; the fallback is the retry
        timeout=moderation.provider_timeout,
    )
    return [OpenAIModerationClassifier(client, moderation.provider_model)]
