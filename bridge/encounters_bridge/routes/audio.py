"""``GET /audio/{key}.wav?exp=&sig=``: a companion's spoken line, for game clients.

No API key: the link's signature and expiry are the authorisation (``audio.py``), and
the gate lets ``/audio/`` through. Expired or altered links are answered 403, lines not
in the cache (pruned, or voice is off) 404, each with a one-line reason.

(No ``from __future__ import annotations``: FastAPI reads the routes' annotations.)
"""

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, Response

from ..audio import AudioLinkError
from ..deployment import DeploymentService
from .schemas import ErrorResponse

RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": "The spoken line (WAV)",
          "content": {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}},
    403: {"model": ErrorResponse, "description": "The link expired, or is altered or incomplete"},
    404: {"model": ErrorResponse, "description": "No such line (pruned), or voice is off"},
}  # fmt: skip


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "errors": []}}, status)


def router(service: DeploymentService) -> APIRouter:
    api = APIRouter(tags=["audio"])

    @api.get("/audio/{name}", response_model=None, response_class=FileResponse,
             responses=RESPONSES, openapi_extra={"security": []})  # fmt: skip
    async def audio(name: str, exp: str | None = None, sig: str | None = None) -> Response:
        links, voice = service.audio_links, service.voice
        if links is None or voice is None:
            return _error(404, "voice is off on this daemon (see AE_VOICE__PROVIDERS)")
        key = name.removesuffix(".wav")
        try:
            links.check(key, exp, sig)
        except AudioLinkError as exc:
            return _error(exc.status, str(exc))
        assert exp is not None
        line = voice.cache.get(key)
        if line is None:
            return _error(404, "no such audio line: it was pruned from the cache; the text "
                          "was shown in the chat")  # fmt: skip
        return FileResponse(line.path, media_type=line.content_type, headers={
            "cache-control": f"private, max-age={links.seconds_left(exp)}",
            "x-audio-duration": f"{line.duration:.3f}",
            # the link is the capability: any page holding it may also read it (the web
            # world's Web Audio panner needs a CORS-readable source)
            "access-control-allow-origin": "*",
        })  # fmt: skip

    return api
