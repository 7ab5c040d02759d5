"""``EncountersClient``: the control API of a running bridge daemon, from Python.

A small httpx wrapper with one method per endpoint (the seed's ``EncountersClient``).
Errors come back as :class:`ControlError` with the daemon's message and field errors;
the key is sent in the ``Authorization`` header and never logged. Timeouts are bounded
(10 s by default).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx

from .errors import EncountersError


class ControlError(EncountersError):
    """The daemon refused a request; ``status`` is the HTTP status."""

    def __init__(self, status: int, message: str, errors: list[str] | None = None) -> None:
        self.status = status
        self.message = message
        self.errors = errors or []
        detail = "".join(f"\n  {e}" for e in self.errors)
        head = f"daemon answered {status}: " if status else ""
        super().__init__(f"{head}{message}{detail}")


class EncountersClient:
    """``async with EncountersClient("http://127.0.0.1:3001", key) as client: ...``"""

    def __init__(
        self,
        url: str,
        key: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.AsyncClient(
            base_url=url.rstrip("/"), headers=headers, timeout=timeout, transport=transport,
            follow_redirects=False,
        )  # fmt: skip

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        content_type: str | None = None,
        raw: bool = False,
    ) -> Any:
        """One request; ``content`` sends bytes instead of JSON, ``raw`` answers the
        body's bytes instead of parsed JSON."""
        headers = {"Content-Type": content_type} if content_type else None
        given = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            if content is not None:
                response = await self._http.request(
                    method, path, content=content, headers=headers, params=given
                )
            else:
                response = await self._http.request(method, path, json=body, params=given)
        except httpx.TimeoutException:
            raise ControlError(0, f"{self._http.base_url} did not answer within "
                                  f"{self._http.timeout.read} s") from None  # fmt: skip
        except httpx.HTTPError as exc:
            reason = str(exc) or type(exc).__name__
            raise ControlError(0, f"cannot reach {self._http.base_url}: {reason}") from None
        if raw and response.status_code < 400:
            return response.content
        try:
            data = response.json() if response.content else None
        except ValueError:
            data = None
            if response.status_code < 400:
                raise ControlError(response.status_code,
                                   "the answer is not JSON: is this an AI Encounters daemon?"
                                   ) from None  # fmt: skip
        if response.status_code >= 400:
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict):
                message = str(err.get("message", ""))
                errors = [str(e) for e in err.get("errors", []) if e is not None]
            else:
                message, errors = response.text[:200], []
            raise ControlError(response.status_code, message, errors)
        return data

    # -- personas and deployment -----------------------------------------------------

    async def submit_persona(self, persona: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/personas/submit", persona)
        return result

    async def approve_persona(self, persona_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", f"/personas/{persona_id}/approve")
        return result

    async def reject_persona(self, persona_id: str, reason: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "POST", f"/personas/{persona_id}/reject", {"reason": reason}
        )
        return result

    async def personas(self, status: str | None = None) -> list[dict[str, Any]]:
        path = "/personas" + (f"?status={status}" if status else "")
        result: list[dict[str, Any]] = await self._call("GET", path)
        return result

    async def spawn(
        self,
        persona_id: str,
        token: str,
        world: str,
        server_id: str,
        location: dict[str, float] | None = None,
        language: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"personaId": persona_id, "deploymentToken": token,
                                "world": world, "serverId": server_id,
                                "spawnLocation": location}  # fmt: skip
        if language is not None:
            body["language"] = language  # BCP 47: the companion speaks it
        result: dict[str, Any] = await self._call("POST", "/spawn", body)
        return result

    async def translate(
        self,
        language: str,
        *,
        encounter: dict[str, Any] | None = None,
        template: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """An encounter or a template (give one) with its texts in ``language``
        (BCP 47), translated by the daemon's LLM; ids and placeholders kept. Returns
        ``{"language", "encounter"}`` or ``{"language", "template"}``."""
        body: dict[str, Any] = {"language": language}
        if encounter is not None:
            body["encounter"] = encounter
        if template is not None:
            body["template"] = template
        result: dict[str, Any] = await self._call("POST", "/translate", body)
        return result

    async def signal(self, session_id: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
        body = {"sessionId": session_id, "actions": actions}
        result: dict[str, Any] = await self._call("POST", "/signal", body)
        return result

    async def end(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", f"/session/{session_id}/end")
        return result

    async def replay(self, session_id: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = await self._call("GET", f"/session/{session_id}/replay")
        return result

    # -- content and encounter sessions ------------------------------------------------

    async def publish_encounter(self, encounter: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/encounters", encounter)
        return result

    async def publish_template(self, template: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", "/templates", template)
        return result

    async def start_session(self, player: dict[str, Any], encounter_id: str) -> dict[str, Any]:
        body = {"player": player, "encounterId": encounter_id}
        result: dict[str, Any] = await self._call("POST", "/sessions", body)
        return result

    async def update_objective(
        self,
        session_id: str,
        objective_id: str,
        *,
        completed: bool | None = None,
        progress: int | None = None,
    ) -> dict[str, Any]:
        body = {"completed": completed, "progress": progress}
        path = f"/sessions/{session_id}/objectives/{objective_id}"
        result: dict[str, Any] = await self._call("POST", path, body)
        return result

    async def complete_session(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("POST", f"/sessions/{session_id}/complete")
        return result

    # -- the marketplace -------------------------------------------------------------

    async def market_publish(
        self, submission: dict[str, Any], listing_id: str | None = None
    ) -> dict[str, Any]:
        """Publish a new listing, or a new version of ``listing_id``."""
        path = f"/market/listings/{listing_id}/versions" if listing_id else "/market/listings"
        result: dict[str, Any] = await self._call("POST", path, submission)
        return result

    async def market_search(self, cursor: str | None = None, **query: Any) -> dict[str, Any]:
        """One page: ``{"items": [...], "next_cursor": ...}``."""
        result: dict[str, Any] = await self._call(
            "GET", "/market/search", params={**query, "cursor": cursor}
        )
        return result

    async def market_listing(self, listing_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", f"/market/listings/{listing_id}")
        return result

    async def market_versions(self, listing_id: str) -> list[dict[str, Any]]:
        path = f"/market/listings/{listing_id}/versions"
        result: list[dict[str, Any]] = await self._call("GET", path)
        return result

    async def market_act(self, listing_id: str, action: str, body: Any = None) -> Any:
        """``action`` on a listing or a version (``unlist``, ``relist``,
        ``versions/1.0.0/approve``, ``versions/1.0.0/reject``, ``versions/1.0.0/deprecate``,
        ``ratings``, ``reports``, ``install``)."""
        return await self._call("POST", f"/market/listings/{listing_id}/{action}", body)

    async def market_install(self, listing_id: str, version: str | None = None) -> dict[str, Any]:
        path = f"/market/listings/{listing_id}/install"
        result: dict[str, Any] = await self._call("POST", path, params={"version": version})
        return result

    async def market_bundle(self, listing_id: str, version: str | None = None) -> bytes:
        path = f"/market/listings/{listing_id}/bundle"
        result: bytes = await self._call("GET", path, params={"version": version}, raw=True)
        return result

    async def market_install_bundle(self, bundle: bytes) -> dict[str, Any]:
        result: dict[str, Any] = await self._call(
            "POST", "/market/bundles/install", content=bundle, content_type="application/zip"
        )
        return result

    async def market_card(
        self, listing_id: str, spec: str = "v3", fmt: str = "json", version: str | None = None
    ) -> bytes:
        path = f"/market/listings/{listing_id}/card"
        params = {"spec": spec, "format": fmt, "version": version}
        result: bytes = await self._call("GET", path, params=params, raw=True)
        return result

    async def market_policy(self, policy: str | None = None) -> dict[str, Any]:
        """The publishing policy; sets it first when ``policy`` is given (admin)."""
        if policy is not None:
            await self._call("PUT", "/market/policy", {"policy": policy})
        result: dict[str, Any] = await self._call("GET", "/market/policy")
        return result

    async def health(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/health")
        return result
