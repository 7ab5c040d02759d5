"""The template library: the built-in templates shipped as data files in ``builtin/``,
plus any folders of ``*.json`` templates a game adds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from ..errors import TemplateError, TemplateNotFound, ValidationFailed
from ..jsonio import parse_json, read_json_file
from ..models import Category, EncounterSpec
from ..validation import validate_model
from .model import EncounterTemplate
from .render import check_template, render

#: Template files larger than this are refused: a template is a small skeleton.
MAX_TEMPLATE_BYTES = 256 * 1024


def parse_template(text: str, source: str) -> EncounterTemplate:
    """Parse and check one template file's text; errors name ``source`` and the field."""
    try:
        data = parse_json(text, source)
    except ValidationFailed as exc:
        raise TemplateError(f"{source}: {exc.errors[0].message}") from None
    return template_from_data(data, source)


def template_from_data(data: object, source: str) -> EncounterTemplate:
    """Validate parsed JSON as a template and check that it renders."""
    try:
        template = validate_model(EncounterTemplate, data, f"template {source}")
    except ValidationFailed as exc:
        raise TemplateError(str(exc)) from None
    try:
        check_template(template)
    except TemplateError as exc:
        raise TemplateError(f"{source}: {exc}") from None
    return template


class TemplateLibrary:
    """Templates by id. Later additions replace earlier ones with the same id, so a game
    can override a built-in template by shipping its own file with that id."""

    def __init__(self, templates: Iterable[EncounterTemplate] = ()) -> None:
        self._by_id: dict[str, EncounterTemplate] = {}
        for t in templates:
            self.add(t)

    @classmethod
    def builtin(cls) -> TemplateLibrary:
        lib = cls()
        folder = resources.files("encounters.templates").joinpath("builtin")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".json"):
                lib.add(parse_template(entry.read_text(encoding="utf-8"), f"builtin/{entry.name}"))
        return lib

    def add(self, template: EncounterTemplate) -> None:
        check_template(template)
        self._by_id[template.id] = template

    def load_folder(self, folder: str | Path) -> list[EncounterTemplate]:
        """Add every ``*.json`` file in ``folder``. All files are checked before any is
        added, so one bad file leaves the library as it was."""
        path = Path(folder)
        if not path.is_dir():
            raise TemplateError(f"template folder {str(path)!r} does not exist or is not a folder")
        loaded: list[EncounterTemplate] = []
        for file in sorted(path.glob("*.json")):
            try:
                data = read_json_file(file, max_bytes=MAX_TEMPLATE_BYTES)
            except ValidationFailed as exc:
                raise TemplateError(f"{file}: {exc.errors[0].message}") from None
            loaded.append(template_from_data(data, str(file)))
        for t in loaded:
            self.add(t)
        return loaded

    def get(self, template_id: str) -> EncounterTemplate:
        try:
            return self._by_id[template_id]
        except KeyError:
            raise TemplateNotFound(template_id, list(self._by_id)) from None

    def list(self, category: Category | str | None = None) -> list[EncounterTemplate]:
        items = sorted(self._by_id.values(), key=lambda t: (t.category.value, t.id))
        if category is None:
            return items
        return [t for t in items if t.category == Category(category)]

    def __contains__(self, template_id: object) -> bool:
        return template_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def render(
        self,
        template_id: str,
        params: Mapping[str, object] | None = None,
        *,
        difficulty: float | None = None,
        language: str | None = None,
    ) -> EncounterSpec:
        return render(self.get(template_id), params, difficulty=difficulty, language=language)
