"""``ae voice say TEXT --out FILE``: hear a voice before giving it to a persona.

Speaks one line with the configured engines (``AE_VOICE__PROVIDERS``, the same router
as the daemon: fallback, timeouts, usage) and writes the WAV file; nothing is cached
and nothing is moderated (the text is the creator's own, and stays on this machine
unless an online engine is configured).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio
import typer

from ..models.persona import Voice
from ..validation import validate_model
from .app import JsonFlag, app, fail, out, print_json, state

voice_app = typer.Typer(help="Companions' voices: preview one.", no_args_is_help=True)
app.add_typer(voice_app, name="voice")


@voice_app.command("say")
def voice_say(
    text: Annotated[str, typer.Argument(help="The line to speak.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="The WAV file to write.")],
    voice: Annotated[
        str, typer.Option("--voice", help="A persona voice id: en+f3, nova, openai:coral...")
    ] = "en",
    rate: Annotated[float, typer.Option("--rate", help="Speed, 0.25 to 4 (1 is normal).")] = 1.0,
    language: Annotated[
        str, typer.Option("--language", "-l", help="BCP 47 language, for eSpeak NG.")
    ] = "en",
    as_json: JsonFlag = False,
) -> None:
    """Speak TEXT with a persona voice and write it to a WAV file."""
    from ..voice import Speech, VoicePolicy, VoiceRouter, build_speech_providers

    chosen = validate_model(Voice, {"id": voice, "rate": rate}, "voice")
    if not text.strip():
        raise fail("give a line to speak")
    if output.is_dir():
        raise fail(f"{output} is a folder; give a file name such as line.wav")
    settings = state.settings()
    policy = VoicePolicy(timeout=settings.voice.timeout, deadline=settings.voice.deadline,
                         max_retries=settings.voice.max_retries)  # fmt: skip
    router = VoiceRouter(build_speech_providers(settings), policy=policy)

    async def speak() -> Speech:
        try:
            return await router.speak(text, chosen.id, chosen.rate, language)
        finally:
            await router.aclose()

    speech = anyio.run(speak)
    try:
        output.write_bytes(speech.audio)
    except OSError as exc:
        raise fail(f"cannot write {output}: {exc.strerror or exc}") from None
    record = router.recent[-1]
    summary = {"file": str(output), "engine": speech.provider, "model": speech.model,
               "seconds": round(speech.duration, 3), "cost_usd": record.cost_usd}  # fmt: skip
    if as_json:
        print_json(summary)
        return
    out.print(f"{output}: {summary['seconds']} s by {summary['engine']} ({summary['model']}), "
              f"estimated cost ${record.cost_usd:.6f}", highlight=False)  # fmt: skip
