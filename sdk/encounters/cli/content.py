"""Content commands: ``validate``, ``schema``, ``generate``, ``templates``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from ..errors import FieldError, TemplateError, ValidationFailed
from ..generation import GenerationRequest
from ..i18n import tags
from ..i18n.messages import _
from ..jsonio import read_json_file
from ..models import Category, EncounterSpec, PlayerContext, Session
from ..models.persona import PersonaCore
from ..templates import EncounterTemplate
from ..templates.library import template_from_data
from ..validation import validate_model
from .app import JsonFlag, app, err, fail, out, print_json, state

SCHEMAS: dict[str, type[BaseModel]] = {
    "encounter": EncounterSpec,
    "session": Session,
    "player": PlayerContext,
    "template": EncounterTemplate,
    "generation-request": GenerationRequest,
    "persona": PersonaCore,
}

templates_app = typer.Typer(help=_("List and inspect encounter templates."), no_args_is_help=True)
encounters_app = typer.Typer(help=_("Encounters kept in the store."), no_args_is_help=True)
app.add_typer(encounters_app, name="encounters")
app.add_typer(templates_app, name="templates")


def _prefixed(prefix: str, errors: list[FieldError]) -> list[FieldError]:
    def join(path: str) -> str:
        if not prefix:
            return path
        return f"{prefix}{path}" if not path or path.startswith("[") else f"{prefix}.{path}"

    return [FieldError(join(e.path), e.message) for e in errors]


def load_encounters(path: Path) -> list[EncounterSpec]:
    """The encounters in a file holding one encounter or a JSON list of them. Every
    problem is reported at once, list items prefixed ``[i]``."""
    data = read_json_file(path)
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ValidationFailed(
            str(path), [FieldError("", "empty list: no encounters in this file")]
        )
    specs: list[EncounterSpec] = []
    errors: list[FieldError] = []
    for i, item in enumerate(items):
        try:
            specs.append(validate_model(EncounterSpec, item, "encounter"))
        except ValidationFailed as exc:
            errors += _prefixed(f"[{i}]" if isinstance(data, list) else "", exc.errors)
    if errors:
        raise ValidationFailed(str(path), errors)
    return specs


def check_content(path: Path) -> list[FieldError]:
    """Every problem in one content file: an encounter, a list of encounters, or a
    template (an object with ``structure``, which must also render). Empty means valid."""
    try:
        data = read_json_file(path)
        if isinstance(data, dict) and "structure" in data:
            try:
                template_from_data(data, str(path))
            except TemplateError as exc:
                lines = str(exc).splitlines()[1:] or [str(exc)]
                return [FieldError("", line.strip()) for line in lines]
            return []
        load_encounters(path)
    except ValidationFailed as exc:
        return exc.errors
    return []


@app.command(
    help=_("Check encounter and template files; print every problem; exit 1 if any is bad.")
)
def validate(
    files: Annotated[list[Path], typer.Argument(help="Encounter or template JSON files.")],
    as_json: JsonFlag = False,
) -> None:
    """Check encounter and template files; print every problem; exit 1 if any is bad."""
    if as_json:
        report = [{"file": str(p), "errors": [str(e) for e in check_content(p)]} for p in files]
        print_json(report)
        if any(r["errors"] for r in report):
            raise typer.Exit(1)
        return
    bad = 0
    with Progress(console=err, transient=True, disable=len(files) < 20) as progress:
        task = progress.add_task("validating", total=len(files))
        for path in files:
            errors = check_content(path)
            if errors:
                bad += 1
                out.print(f"[red]✗[/red] {path}", highlight=False, soft_wrap=True)
                for e in errors:
                    out.print(f"    {e}", highlight=False, markup=False, soft_wrap=True)
            else:
                out.print(f"[green]✓[/green] {path}", highlight=False, soft_wrap=True)
            progress.advance(task)
    if len(files) > 1:
        out.print(_("{valid} valid, {invalid} invalid").format(valid=len(files) - bad, invalid=bad))
    if bad:
        raise typer.Exit(1)


@app.command(help=_("Print the JSON Schema of a model (for editors and LLM structured output)."))
def schema(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(SCHEMAS)}")] = "encounter",
) -> None:
    """Print the JSON Schema of a model (for editors and LLM structured output)."""
    model = SCHEMAS.get(name)
    if model is None:
        raise fail(f"unknown schema {name!r}; choose one of: {', '.join(SCHEMAS)}")
    print(json.dumps(model.model_json_schema(), indent=2))


def parse_params(pairs: list[str]) -> dict[str, object]:
    """``["a=1", "b=x"]`` -> ``{"a": "1", "b": "x"}``; a name given twice is an error."""
    params: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise fail(f"--param {pair!r} must look like name=value")
        if key in params:
            raise fail(f"--param {key} is given twice; give each parameter once")
        params[key] = value
    return params


@app.command(help=_("Generate encounters from a template or by category, offline by default."))
def generate(
    template: Annotated[
        str | None, typer.Option("--template", "-t", help="Template id (see 'ae templates list').")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Template parameter as name=value; repeat for more."),
    ] = None,
    category: Annotated[Category | None, typer.Option("--category", "-c")] = None,
    difficulty: Annotated[float | None, typer.Option(min=0.1, max=1.0)] = None,
    level: Annotated[int, typer.Option(min=1, max=1000, help="Player level.")] = 1,
    player: Annotated[str, typer.Option(help="Player id.")] = "player",
    seed: Annotated[int | None, typer.Option(help="Seed for repeatable output.")] = None,
    provider: Annotated[
        str | None,
        typer.Option(help="LLM provider to use (openai, anthropic, ollama, procedural)."),
    ] = None,
    count: Annotated[
        int, typer.Option(min=1, max=10_000, help="How many; more than one prints a JSON list.")
    ] = 1,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    save: Annotated[bool, typer.Option(help="Also keep them in the store.")] = True,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            "-l",
            help=_(
                "Language of the texts as a BCP 47 tag (en, es, de, fr, pt-BR, ru are "
                "written offline; LLMs are asked for any)."
            ),
        ),
    ] = None,
) -> None:
    """Generate encounters from a template or by category, offline by default."""
    if template is None and category is None:
        raise fail(_("give --template ID (with --param name=value) or --category NAME"))
    if template is not None and category is not None:
        raise fail(_("give either --template or --category, not both"))
    if template is not None and (seed is not None or level != 1 or provider is not None):
        raise fail(
            "--seed, --level and --provider shape generation by --category; templates ignore them"
        )
    if template is None and param:
        raise fail("--param only applies with --template")
    params = parse_params(param or [])
    if language is not None:
        try:
            language = tags.canonical(language)
        except ValueError as exc:
            raise fail(f"--language: {exc}") from None
    specs: list[EncounterSpec] = []
    with (
        state.engine() as engine,
        Progress(console=err, transient=True, disable=count < 50) as progress,
    ):
        task = progress.add_task("generating", total=count)
        for i in range(count):
            specs.append(
                engine.generate(
                    template=template,
                    params=params or None,
                    category=category,
                    difficulty=difficulty,
                    player=None if template else {"player_id": player, "level": level},
                    seed=None if seed is None else seed + i,
                    provider=provider,
                    save=save,
                    language=language,
                )
            )
            progress.advance(task)
    payload = [s.model_dump(mode="json") for s in specs]
    text = json.dumps(payload[0] if count == 1 else payload, indent=2, ensure_ascii=False)
    if output is None:
        print(text)
    else:
        try:
            output.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise fail(
                _("cannot write {path}: {reason}").format(path=output, reason=exc.strerror)
            ) from None
        err.print(
            _("wrote {count} encounter(s) to {path}").format(count=count, path=output),
            highlight=False,
        )


@app.command(
    help=_(
        "Translate an encounter or template through the configured LLM, keeping ids and "
        "placeholders (the reply is checked, asked for once more, then refused)."
    )
)
def translate(
    file: Annotated[Path, typer.Argument(help="An encounter or template JSON file.")],
    to: Annotated[str, typer.Option("--to", help=_("Target language, BCP 47 (es, pt-BR)."))],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Translate an encounter or template through the configured LLM, keeping ids and
    placeholders (the reply is checked, asked for once more, then refused)."""
    try:
        target = tags.canonical(to)
    except ValueError as exc:
        raise fail(f"--to: {exc}") from None
    data = read_json_file(file)
    is_template = isinstance(data, dict) and "structure" in data
    with state.engine() as engine:
        if is_template:
            template = template_from_data(data, str(file))
            result = engine.translate_template(template, target).model_dump(mode="json")
        else:
            spec = validate_model(EncounterSpec, data, str(file))
            result = engine.translate_encounter(spec, target).model_dump(mode="json")
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if output is None:
        print(text)
        return
    try:
        output.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise fail(
            _("cannot write {path}: {reason}").format(path=output, reason=exc.strerror)
        ) from None
    err.print(
        _("wrote the {language} translation to {path}").format(language=target, path=output),
        highlight=False,
    )


@templates_app.command("list")
def templates_list(
    category: Annotated[Category | None, typer.Option("--category", "-c")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show every template, or those of one category."""
    items = state.templates().list(category)
    if as_json:
        print_json(items)
        return
    table = Table(title=f"{len(items)} templates")
    table.add_column("id", no_wrap=True)  # ids and names are copied: never cut them
    for col in ("category", "difficulty", "minutes"):
        table.add_column(col)
    table.add_column("required parameters", overflow="fold")
    for t in items:
        table.add_row(
            t.id,
            t.category.value,
            t.difficulty,
            str(t.estimated_duration),
            ", ".join(t.required_fields) or "-",
        )
    out.print(table)


@templates_app.command("show")
def templates_show(
    template_id: Annotated[str, typer.Argument(help="Template id.")], as_json: JsonFlag = False
) -> None:
    """Show a template's description and parameters."""
    t = state.templates().get(template_id)
    if as_json:
        print_json(t)
        return
    out.print(
        f"[bold]{t.name}[/bold] ({t.id}) · {t.category.value} · {t.difficulty} · "
        f"~{t.estimated_duration} min",
        highlight=False,
    )
    if t.description:
        out.print(t.description, highlight=False, markup=False)
    out.print("parameters:")
    for name, p in t.parameters.items():
        if p.choices:
            bounds = "one of " + ", ".join(p.choices)
        elif p.type.value in ("int", "float"):
            lo = "" if p.min is None else f"{p.min:g}"
            hi = "" if p.max is None else f"{p.max:g}"
            bounds = f"{lo}..{hi}" if lo or hi else ""
        elif p.type.value == "string":
            bounds = f"<= {p.max_length} chars"
        else:
            bounds = ""
        need = (
            "required"
            if p.required
            else f"default {p.default}"
            if p.default is not None
            else "optional"
        )
        details = ", ".join(x for x in (p.type.value, need, bounds) if x)
        out.print(f"  [bold]{name}[/bold] ({details})", highlight=False)
        if p.description:
            out.print(f"      {escape(p.description)}", highlight=False)
    example = " ".join(f"-p {n}=..." for n in t.required_fields)
    out.print(f"generate: ae generate -t {t.id} {example}".rstrip(), highlight=False)


@app.command(help=_("Check chat lines as a persona's moderation would: allow, sanitize or block."))
def moderate(
    texts: Annotated[list[str], typer.Argument(help="Chat lines to check.")],
    block: Annotated[
        bool, typer.Option("--block", help="Block profanity instead of masking it.")
    ] = False,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow-topic", help="A topic this persona may talk about; repeat."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Check chat lines as a persona's moderation would: allow, sanitize or block."""
    from ..models.persona import BUILTIN_TOPICS, Safety, canonical_topic
    from ..moderation import ContentModerator

    allowed = {canonical_topic(t) for t in allow or []}
    safety = Safety(
        blocked_topics=[t for t in BUILTIN_TOPICS if t not in allowed],
        moderation="block" if block else "sanitize",
    )
    moderator = ContentModerator(settings=state.settings().moderation)
    if as_json:
        print_json([moderator.check_message(text, safety) for text in texts])
        return
    for text in texts:
        result = moderator.check_message(text, safety)
        colour = {"allow": "green", "sanitize": "yellow", "block": "red"}[result.decision]
        detail = result.topic or result.reason or ""
        shown = result.text if result.text is not None else text
        if len(shown) > 200:
            shown = shown[:200] + f"… ({len(shown)} characters)"
        out.print(
            f"[{colour}]{result.decision:8}[/{colour}] {escape(shown)}"
            + (
                f"  [dim]({escape(detail)}; {', '.join(result.categories)})[/dim]" if detail else ""
            ),
            highlight=False,
            soft_wrap=True,
        )


providers_app = typer.Typer(help=_("LLM providers."), no_args_is_help=True)
app.add_typer(providers_app, name="providers")


@providers_app.command("check")
def providers_check(
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        min=0.1,
        max=600,
        help="Seconds each check may take (default LLM_CHECK_TIMEOUT, 5).",
    ),
    as_json: JsonFlag = False,
) -> None:
    """Each configured provider's health, checked concurrently: status, error and
    latency (the offline generator is always there). Exit 1 when all are down."""
    import anyio

    from ..generation.router import ProviderHealth, ProviderManager

    settings = state.settings()
    manager = ProviderManager.from_settings(settings.llm)

    async def run() -> list[ProviderHealth]:
        try:
            return await manager.check_providers(timeout)
        finally:
            await manager.aclose()

    checks = anyio.run(run)
    if as_json:
        print_json({"providers": checks, "procedural_fallback": manager.policy.procedural_fallback})
        if manager.providers and not any(h.ok for h in checks):
            raise typer.Exit(1)
        return
    table = Table(title="LLM providers, in the order they are tried")
    for col in ("provider", "model", "health", "status", "latency", "error"):
        table.add_column(col)
    for h in checks:
        table.add_row(
            h.provider,
            h.model,
            "[green]ok[/green]" if h.ok else "[red]down[/red]",
            str(h.status) if h.status is not None else "-",
            f"{h.latency_ms:.0f} ms",
            escape(h.error or "-"),
        )
    fallback = "on" if manager.policy.procedural_fallback else "off"
    table.add_row("procedural", "-", f"[green]ok[/green] (fallback {fallback})", "-", "-", "-")
    out.print(table)
    if not manager.providers:
        out.print("no LLM configured: set LLM_PRIMARY_PROVIDER and its key (see README)")
    if manager.providers and not any(h.ok for h in checks):
        raise typer.Exit(1)


@app.command(help=_("LLM calls, failures, tokens and estimated cost, per provider and model."))
def stats(as_json: JsonFlag = False) -> None:
    """LLM calls, failures, tokens and estimated cost, per provider and model."""
    with state.engine() as engine:
        totals = engine.usage_totals()
    if as_json:
        print_json(totals)
        return
    table = Table(title="LLM usage (every attempt, failed ones included)")
    for col in ("provider", "model", "calls", "failed", "input tokens", "output tokens", "cost"):
        table.add_column(col, justify="right" if col not in ("provider", "model") else "left")
    for t in totals:
        table.add_row(
            t.provider,
            t.model,
            str(t.calls),
            str(t.failures),
            f"{t.input_tokens:,}",
            f"{t.output_tokens:,}",
            f"${t.cost_usd:.4f}",
        )
    if not totals:
        table.add_row("-", "no LLM calls recorded", "0", "0", "0", "0", "$0.0000")
    out.print(table)


@encounters_app.command("import")
def encounters_import(
    file: Annotated[Path, typer.Argument(help="A JSON file: one encounter or a list.")],
) -> None:
    """Validate encounters and keep them in the store (campaigns name them by id). An
    encounter with the id of a stored one replaces it."""
    specs = load_encounters(file)
    with state.engine() as engine:
        for spec in specs:
            engine.save_encounter(spec)
    out.print(f"stored {len(specs)} encounter(s): {', '.join(s.id for s in specs)}",
              highlight=False, soft_wrap=True)  # fmt: skip


@encounters_app.command("list")
def encounters_list(
    category: Annotated[Category | None, typer.Option("--category", "-c")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The newest encounters in the store."""
    with state.engine() as engine:
        items = engine.list_encounters(category=category, limit=limit)
    if as_json:
        print_json(items)
        return
    table = Table(title=f"{len(items)} encounter(s)")
    table.add_column("id", no_wrap=True)
    for col in ("title", "category", "difficulty", "generator"):
        table.add_column(col)
    for e in items:
        table.add_row(e.id, escape(e.title), e.category.value, f"{e.difficulty:.2f}", e.generator)
    out.print(table)
