"""Encounter templates: the built-in library, typed parameters, untrusted parameter
values, and template files a game ships in its own folder."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

import encounters.templates as templates_pkg
from encounters.errors import (
    TemplateError,
    TemplateNotFound,
    TemplateParameterError,
    ValidationFailed,
)
from encounters.models import Category, EncounterSpec, ObjectiveKind, RewardKind
from encounters.templates import (
    EncounterTemplate,
    ParamType,
    TemplateLibrary,
    TemplateParameter,
    parse_template,
    render,
)

BUILTIN_DIR = Path(templates_pkg.__file__).parent / "builtin"
BUILTIN_IDS = sorted(p.stem for p in BUILTIN_DIR.glob("*.json"))


# -- helpers ---------------------------------------------------------------------------


@pytest.fixture
def lib() -> TemplateLibrary:
    return TemplateLibrary.builtin()


def sample_value(param: TemplateParameter) -> object:
    """A legal value for ``param``, as a game would pass it."""
    if param.type is ParamType.STRING:
        return "Oakvale"[: param.max_length]
    if param.type is ParamType.INT:
        value = int(param.min) if param.min is not None else 1
        if value < 1 and (param.max is None or param.max >= 1):
            value = 1  # a count used as an objective quantity must be >= 1
        return value
    if param.type is ParamType.FLOAT:
        return param.min if param.min is not None else 0.5
    if param.type is ParamType.ENUM:
        return param.choices[0]
    return True


def required_params(template: EncounterTemplate) -> dict[str, object]:
    return {n: sample_value(p) for n, p in template.parameters.items() if p.required}


def extreme_params(template: EncounterTemplate, high: bool) -> dict[str, object]:
    """Every parameter at the edge of what it accepts."""
    out: dict[str, object] = {}
    for name, p in template.parameters.items():
        if p.type is ParamType.STRING:
            out[name] = "W" * p.max_length if high else "x"
        elif p.type in (ParamType.INT, ParamType.FLOAT):
            bound = p.max if high else p.min
            if bound is None:
                bound = 1_000_000 if high else 0
            out[name] = int(bound) if p.type is ParamType.INT else float(bound)
        elif p.type is ParamType.ENUM:
            out[name] = p.choices[-1] if high else p.choices[0]
        else:
            out[name] = high
    return out


def ambush(lib: TemplateLibrary, **params: object) -> EncounterSpec:
    base: dict[str, object] = {"enemy_type": "wolves", "enemy_count": 5}
    base.update(params)
    return lib.render("combat-ambush", base)


def bad_names(exc: pytest.ExceptionInfo[TemplateParameterError]) -> set[str]:
    return {e.path for e in exc.value.errors}


def error_for(exc: pytest.ExceptionInfo[TemplateParameterError], name: str) -> str:
    return next(e.message for e in exc.value.errors if e.path == name)


MINIMAL: dict[str, Any] = {
    "id": "test-minimal",
    "name": "Minimal",
    "category": "combat",
    "difficulty": "medium",
    "parameters": {
        "foe": {"type": "string", "required": True, "max_length": 30},
        "count": {"type": "int", "min": 1, "max": 10, "default": 2},
    },
    "structure": {
        "title": "Fight the {{foe}}",
        "objectives": [
            {
                "id": "obj_1",
                "description": "Defeat {{count}} {{foe}}",
                "kind": "eliminate",
                "target": "{{foe}}",
                "quantity": "{{count}}",
            }
        ],
    },
}


def minimal(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    data.update(changes)
    return data


def with_title(title: str, **params: Any) -> dict[str, Any]:
    data = minimal()
    data["structure"]["title"] = title
    data["parameters"].update(params)
    return data


def with_param(name: str, decl: dict[str, Any]) -> dict[str, Any]:
    data = minimal()
    data["parameters"][name] = decl
    data["structure"]["description"] = f"Uses {{{{{name}}}}}"
    return data


def parse(data: dict[str, Any], source: str = "test.json") -> EncounterTemplate:
    return parse_template(json.dumps(data), source)


def write(folder: Path, name: str, data: dict[str, Any] | str) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


# -- the built-in library --------------------------------------------------------------


def test_builtin_library_covers_every_category(lib: TemplateLibrary) -> None:
    assert len(lib) >= 15
    assert "combat-ambush" in lib
    for category in Category:
        in_category = lib.list(category)
        assert len(in_category) >= 3, f"only {len(in_category)} {category} templates"
        assert all(t.category is category for t in in_category)
    assert len(lib.list()) == len(lib)


def test_builtin_files_are_named_after_their_ids(lib: TemplateLibrary) -> None:
    assert len(BUILTIN_IDS) == len(lib)
    for path in BUILTIN_DIR.glob("*.json"):
        assert json.loads(path.read_text(encoding="utf-8"))["id"] == path.stem
        assert path.stem in lib


def test_builtin_library_uses_every_objective_reward_and_parameter_kind(
    lib: TemplateLibrary,
) -> None:
    specs = [lib.render(t.id, required_params(t)) for t in lib.list()]
    objective_kinds = {o.kind for s in specs for o in s.objectives}
    reward_kinds = {r.kind for s in specs for r in s.rewards}
    param_types = {p.type for t in lib.list() for p in t.parameters.values()}
    assert objective_kinds == set(ObjectiveKind)
    assert reward_kinds == set(RewardKind)
    assert param_types == set(ParamType)
    assert any(o.optional for s in specs for o in s.objectives)
    assert any(n.dialogue and n.personality_traits for s in specs for n in s.npcs)
    items = [r for s in specs for r in s.rewards if r.kind is RewardKind.ITEM]
    assert all(r.item for r in items)
    reputations = [r for s in specs for r in s.rewards if r.kind is RewardKind.REPUTATION]
    assert all(r.faction for r in reputations)


@pytest.mark.parametrize("template_id", BUILTIN_IDS)
def test_builtin_renders_with_only_its_required_params(
    lib: TemplateLibrary, template_id: str
) -> None:
    template = lib.get(template_id)
    spec = lib.render(template_id, required_params(template))
    assert isinstance(spec, EncounterSpec)
    assert spec.template_id == template_id
    assert spec.generator == "template"
    assert spec.category is template.category
    assert spec.objectives
    assert "{{" not in spec.model_dump_json() and "}}" not in spec.model_dump_json()
    # what a game stores comes back identical
    assert EncounterSpec.model_validate_json(spec.model_dump_json()) == spec


@pytest.mark.parametrize("high", [False, True], ids=["lowest", "highest"])
@pytest.mark.parametrize("template_id", BUILTIN_IDS)
def test_builtin_renders_at_parameter_extremes(
    lib: TemplateLibrary, template_id: str, high: bool
) -> None:
    """Any value a parameter accepts (longest strings, biggest numbers) must still make
    a valid encounter, or players could break a template with legal input."""
    template = lib.get(template_id)
    spec = lib.render(template_id, extreme_params(template, high))
    assert spec.template_id == template_id


def test_required_and_customizable_fields(lib: TemplateLibrary) -> None:
    t = lib.get("combat-ambush")
    assert t.required_fields == ["enemy_type", "enemy_count"]
    assert t.customizable_fields == ["enemy_type", "enemy_count", "xp_reward", "location"]


# -- typed values ----------------------------------------------------------------------


def test_quantity_placeholder_becomes_an_int(lib: TemplateLibrary) -> None:
    spec = ambush(lib, enemy_count=5)
    obj = spec.objectives[0]
    assert obj.quantity == 5
    assert type(obj.quantity) is int
    assert obj.description == "Defeat all 5 wolves"
    assert obj.target == "wolves"
    assert spec.rewards[0].amount == 100  # default filled in, as an int
    assert spec.title == "Ambush on the forest road!"


@pytest.mark.parametrize(("raw", "expected"), [("5", 5), (" 12 ", 12), (7.0, 7), (50, 50)])
def test_cli_style_ints_are_coerced(lib: TemplateLibrary, raw: object, expected: int) -> None:
    spec = ambush(lib, enemy_count=raw, xp_reward=str(expected * 10))
    assert spec.objectives[0].quantity == expected
    assert spec.rewards[0].amount == expected * 10


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("false", False),
        ("yes", True),
        ("no", False),
        ("1", True),
        ("0", False),
        (" TRUE ", True),
        (True, True),
        (False, False),
    ],
)
def test_bool_param_gives_a_real_bool(lib: TemplateLibrary, raw: object, expected: bool) -> None:
    spec = lib.render(
        "combat-siege-defense", {"stronghold": "Fort Amber", "waves": "3", "captain_optional": raw}
    )
    captain = spec.objective("obj_2")
    assert captain is not None
    assert captain.optional is expected
    assert spec.objective("obj_1").quantity == 3  # type: ignore[union-attr]


def test_float_param_in_text_is_rounded_to_two_places(lib: TemplateLibrary) -> None:
    spec = lib.render("exploration-flooded-caverns", {"tide_rate": 1.23456})
    assert "rises 1.23 feet every minute" in spec.description
    spec = lib.render("exploration-flooded-caverns", {"tide_rate": "2"})
    assert "rises 2 feet every minute" in spec.description
    spec = lib.render("exploration-flooded-caverns")
    assert "rises 0.5 feet every minute" in spec.description


def test_float_param_in_whole_string_keeps_its_type(lib: TemplateLibrary) -> None:
    spec = lib.render("puzzle-clockwork-tower", {"difficulty": "0.75"})
    assert spec.difficulty == 0.75
    # unset optional parameter: the template's label decides
    assert lib.render("puzzle-clockwork-tower").difficulty == 0.5


def test_enum_param(lib: TemplateLibrary) -> None:
    spec = lib.render(
        "puzzle-rune-lock", {"door_name": "the Moonlit Vault", "rune_school": "storm"}
    )
    assert spec.objectives[0].target == "storm runestones"
    assert spec.objectives[0].quantity == 4
    # surrounding spaces from a form or a CLI are forgiven, other spellings are not
    spec = lib.render("puzzle-rune-lock", {"door_name": "x", "rune_school": " fire "})
    assert spec.objectives[0].target == "fire runestones"


def test_unset_optional_param_drops_its_list_entry(lib: TemplateLibrary) -> None:
    base = {"diplomat_name": "Lady Vesna", "destination": "Highmere"}
    spec = lib.render("social-escort-diplomat", base)
    assert len(spec.npcs[0].dialogue) == 3
    spec = lib.render(
        "social-escort-diplomat", {**base, "personal_request": "Could we stop for\tjam tarts?"}
    )
    assert len(spec.npcs[0].dialogue) == 4
    assert spec.npcs[0].dialogue[-1] == "Could we stop for jam tarts?"


# -- cleaning untrusted strings --------------------------------------------------------


def test_control_characters_are_stripped(lib: TemplateLibrary) -> None:
    spec = ambush(lib, enemy_type="gob\x00lins\u200b\x07\x1b")
    assert spec.objectives[0].target == "goblins"
    assert spec.objectives[0].description == "Defeat all 5 goblins"


def test_whitespace_is_folded(lib: TemplateLibrary) -> None:
    spec = ambush(lib, enemy_type="  cave \t\n\r  trolls  ")
    assert spec.objectives[0].target == "cave trolls"


def test_strings_are_cut_to_max_length(lib: TemplateLibrary) -> None:
    spec = ambush(lib, enemy_type="x" * 100, location="y" * 100)
    assert spec.objectives[0].target == "x" * 40
    assert spec.title == "Ambush on " + "y" * 60 + "!"
    # a cut that lands on a space leaves no dangling space in the text
    spec = ambush(lib, enemy_type="x" * 39 + " yz")
    assert spec.objectives[0].target == "x" * 39
    assert spec.objectives[0].description == "Defeat all 5 " + "x" * 39


@pytest.mark.parametrize("raw", ["", "   ", "\x00\x01\u200b", "\t\n"])
def test_string_that_cleans_to_nothing_is_refused(lib: TemplateLibrary, raw: str) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        ambush(lib, enemy_type=raw)
    assert bad_names(exc) == {"enemy_type"}
    assert "empty" in error_for(exc, "enemy_type")


# -- bad parameters --------------------------------------------------------------------


def test_every_bad_parameter_is_reported_at_once(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        lib.render("combat-ambush", {"enemy_count": 0, "xp_reward": "lots", "colour": "red"})
    assert exc.value.template_id == "combat-ambush"
    assert bad_names(exc) == {"enemy_type", "enemy_count", "xp_reward", "colour"}
    assert len(exc.value.errors) == 4
    assert error_for(exc, "enemy_type") == "required (string)"
    assert error_for(exc, "enemy_count") == "must be >= 1"
    assert "whole number" in error_for(exc, "xp_reward")
    assert "unknown parameter" in error_for(exc, "colour")
    assert "enemy_type, enemy_count, xp_reward, location" in error_for(exc, "colour")
    message = str(exc.value)
    for name in ("enemy_type", "enemy_count", "xp_reward", "colour"):
        assert name in message


def test_missing_required_params_are_named(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        lib.render("combat-ambush")
    assert bad_names(exc) == {"enemy_type", "enemy_count"}
    # None counts as "not given"
    with pytest.raises(TemplateParameterError) as exc:
        ambush(lib, enemy_type=None)
    assert bad_names(exc) == {"enemy_type"}


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("five", "whole number"),
        ("5.5", "whole number"),
        (5.5, "whole number"),
        (True, "whole number"),
        ([5], "number"),
        (51, "<= 50"),
        (-3, ">= 1"),
        ("0", ">= 1"),
    ],
)
def test_bad_int_is_named(lib: TemplateLibrary, raw: object, reason: str) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        ambush(lib, enemy_count=raw)
    assert bad_names(exc) == {"enemy_count"}
    assert reason in error_for(exc, "enemy_count")


@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf, "nan", "inf", "-Infinity", "1e999"])
def test_non_finite_floats_are_refused(lib: TemplateLibrary, raw: object) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        lib.render("exploration-flooded-caverns", {"tide_rate": raw})
    assert bad_names(exc) == {"tide_rate"}
    assert "finite" in error_for(exc, "tide_rate")


def test_non_finite_number_for_int_param_is_refused(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        ambush(lib, enemy_count=math.inf)
    assert bad_names(exc) == {"enemy_count"}


@pytest.mark.parametrize(("raw", "reason"), [(9.5, "<= 5"), (0.0, ">= 0.1"), ("fast", "number")])
def test_bad_float_is_named(lib: TemplateLibrary, raw: object, reason: str) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        lib.render("exploration-flooded-caverns", {"tide_rate": raw})
    assert bad_names(exc) == {"tide_rate"}
    assert reason in error_for(exc, "tide_rate")


@pytest.mark.parametrize("raw", ["lava", "Storm", "", 3])
def test_enum_outside_choices_is_refused(lib: TemplateLibrary, raw: object) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        lib.render("puzzle-rune-lock", {"door_name": "the Vault", "rune_school": raw})
    assert bad_names(exc) == {"rune_school"}
    if isinstance(raw, str):
        assert error_for(exc, "rune_school") == "must be one of fire, frost, storm, stone"


@pytest.mark.parametrize("raw", ["maybe", "2", "", 1, [True]])
def test_bad_bool_is_refused(lib: TemplateLibrary, raw: object) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        lib.render(
            "combat-siege-defense",
            {"stronghold": "Fort Amber", "waves": 2, "captain_optional": raw},
        )
    assert bad_names(exc) == {"captain_optional"}
    assert error_for(exc, "captain_optional") == "must be true or false"


@pytest.mark.parametrize("raw", [42, 4.2, True, ["wolves"], {"name": "wolves"}])
def test_non_text_for_string_param_is_refused(lib: TemplateLibrary, raw: object) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        ambush(lib, enemy_type=raw)
    assert bad_names(exc) == {"enemy_type"}
    assert error_for(exc, "enemy_type") == "must be text"


# -- placeholder injection -------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["{{xp_reward}}", "{{", "}}", "wolves {{ and", "x}}y", "{{enemy_count}} wolves"]
)
def test_values_containing_braces_are_refused(lib: TemplateLibrary, raw: str) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        ambush(lib, enemy_type=raw)
    assert bad_names(exc) == {"enemy_type"}
    assert "{{" in error_for(exc, "enemy_type")


def test_braces_are_refused_in_enum_values_too(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        lib.render("puzzle-rune-lock", {"door_name": "x", "rune_school": "{{xp_reward}}"})
    assert bad_names(exc) == {"rune_school"}


def test_single_braces_stay_literal(lib: TemplateLibrary) -> None:
    spec = ambush(lib, enemy_type="{xp_reward}")
    assert spec.objectives[0].target == "{xp_reward}"
    assert spec.objectives[0].description == "Defeat all 5 {xp_reward}"


@pytest.mark.parametrize(
    "smuggled", ["{\x00{xp_reward}\x00}", "{\u200b{xp_reward}\u200b}", "}\x1b}", "{\x07{"]
)
def test_braces_hidden_by_invisible_characters_are_refused(
    lib: TemplateLibrary, smuggled: str
) -> None:
    """Cleaning would join the braces into a placeholder, so the check sees the cleaned
    text and the value never reaches the encounter."""
    with pytest.raises(TemplateParameterError) as exc:
        ambush(lib, enemy_type=smuggled)
    assert bad_names(exc) == {"enemy_type"}
    assert error_for(exc, "enemy_type") == "must not contain '{{' or '}}'"


@pytest.mark.parametrize(
    ("template_id", "params", "name", "reason"),
    [
        (
            "combat-ambush",
            {"enemy_type": "x", "enemy_count": "1" + "0" * 400},
            "enemy_count",
            "must be <= 50",
        ),
        (
            "combat-ambush",
            {"enemy_type": "x", "enemy_count": 10**400},
            "enemy_count",
            "must be <= 50",
        ),
        ("exploration-flooded-caverns", {"tide_rate": 10**400}, "tide_rate", "is too large"),
    ],
    ids=["int-text", "int", "float"],
)
def test_huge_numbers_are_reported_not_crashing(
    lib: TemplateLibrary, template_id: str, params: dict[str, object], name: str, reason: str
) -> None:
    with pytest.raises(TemplateParameterError) as exc:
        lib.render(template_id, params)
    assert bad_names(exc) == {name}
    assert error_for(exc, name) == reason


# -- broken template files -------------------------------------------------------------


def test_minimal_template_parses_and_renders() -> None:
    spec = render(parse(minimal()), {"foe": "slimes"})
    assert spec.objectives[0].description == "Defeat 2 slimes"
    assert spec.objectives[0].quantity == 2
    assert spec.template_id == "test-minimal"


@pytest.mark.parametrize(
    "title",
    [
        "{{a{{b}}}}",
        "{{ x }",
        "{{x}} }}",
        "{{ x }}",
        "{{x}",
        "{x}}",
        "{{X}}",
        "}}{{",
        "{{x-y}}",
        "{{{{x}}}}",
        "Fight {{",
    ],
)
def test_malformed_or_nested_placeholders_are_refused(title: str) -> None:
    string = {"type": "string", "default": "v"}
    data = with_title(title, a=string, b=string, x=string)
    with pytest.raises(TemplateError) as exc:
        parse(data)
    assert "malformed or nested placeholder" in str(exc.value)
    assert "structure.title" in str(exc.value)


def test_malformed_placeholder_deep_in_structure_is_located() -> None:
    data = minimal()
    data["structure"]["objectives"][0]["description"] = "Defeat {{count} {{foe}}"
    with pytest.raises(TemplateError) as exc:
        parse(data)
    assert "structure.objectives[0].description" in str(exc.value)


def test_placeholder_naming_an_undeclared_parameter_is_refused() -> None:
    with pytest.raises(TemplateError) as exc:
        parse(with_title("Fight the {{ghost}}"))
    assert "{{ghost}} has no declared parameter" in str(exc.value)


@pytest.mark.parametrize(
    "decl",
    [
        {"type": "int", "min": 1, "max": 10, "default": 99},
        {"type": "int", "min": 5, "default": 2},
        {"type": "int", "default": 2.5},
        {"type": "int", "default": "lots"},
        {"type": "float", "max": 1.0, "default": 1.5},
        {"type": "enum", "choices": ["red", "blue"], "default": "green"},
        {"type": "string", "default": "{{count}}"},
        {"type": "string", "default": "   "},
        {"type": "bool", "default": "maybe"},
    ],
)
def test_default_that_breaks_its_own_bounds_is_refused(decl: dict[str, Any]) -> None:
    with pytest.raises(TemplateError) as exc:
        parse(with_param("extra", decl))
    assert "parameters.extra.default" in str(exc.value)


def test_non_finite_default_is_refused() -> None:
    text = json.dumps(with_param("extra", {"type": "float", "default": 0.5}))
    text = text.replace('"default": 0.5', '"default": NaN')
    with pytest.raises(TemplateError) as exc:
        parse_template(text, "nan.json")
    assert "parameters.extra.default: must be a finite number" in str(exc.value)


@pytest.mark.parametrize(
    ("decl", "fragment"),
    [
        ({"type": "string", "required": True, "default": "x"}, "cannot have a default"),
        ({"type": "enum"}, "needs 'choices'"),
        ({"type": "int", "choices": ["1"]}, "only applies to enum"),
        ({"type": "int", "min": 10, "max": 1}, "'min' is greater than 'max'"),
        ({"type": "string", "maxlen": 5}, "parameters.extra.maxlen"),
        ({"type": "text"}, "parameters.extra.type"),
        ({"type": "string", "max_length": 0}, "parameters.extra.max_length"),
    ],
)
def test_bad_parameter_declaration_is_refused(decl: dict[str, Any], fragment: str) -> None:
    with pytest.raises(TemplateError) as exc:
        parse(with_param("extra", decl), "bad-decl.json")
    assert fragment in str(exc.value)
    assert "bad-decl.json" in str(exc.value)


def test_bad_template_fields_are_refused() -> None:
    with pytest.raises(TemplateError) as exc:
        parse(minimal(category="romance", difficulty="extreme", colour="red"))
    message = str(exc.value)
    for field in ("category", "difficulty", "colour"):
        assert field in message
    with pytest.raises(TemplateError):
        parse_template('["not", "an", "object"]', "list.json")


@pytest.mark.parametrize("bound", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_bound_is_refused(bound: str) -> None:
    """A NaN bound would silently disable the range check."""
    text = json.dumps(minimal()).replace('"min": 1', f'"min": {bound}')
    with pytest.raises(TemplateError) as exc:
        parse_template(text, "nan-bound.json")
    assert "nan-bound.json" in str(exc.value)
    assert "parameters.count.min: must be a finite number" in str(exc.value)


def test_malformed_json_names_line_and_column() -> None:
    with pytest.raises(TemplateError) as exc:
        parse_template('{"id": "x",\n  "name": }', "broken.json")
    assert str(exc.value).startswith("broken.json: malformed JSON at line 2 column 11")


# -- user template folders -------------------------------------------------------------


def test_load_folder_adds_user_templates(lib: TemplateLibrary, tmp_path: Path) -> None:
    before = len(lib)
    write(tmp_path, "user-slimes.json", minimal(id="user-slimes", category="puzzle"))
    write(tmp_path, "notes.txt", "not a template")
    loaded = lib.load_folder(tmp_path)
    assert [t.id for t in loaded] == ["user-slimes"]
    assert len(lib) == before + 1
    assert "user-slimes" in [t.id for t in lib.list("puzzle")]
    spec = lib.render("user-slimes", {"foe": "slimes", "count": "4"})
    assert spec.objectives[0].quantity == 4
    assert spec.template_id == "user-slimes"


def test_user_file_overrides_builtin(lib: TemplateLibrary, tmp_path: Path) -> None:
    before = len(lib)
    write(tmp_path, "my-ambush.json", minimal(id="combat-ambush", name="House Ambush"))
    lib.load_folder(tmp_path)
    assert len(lib) == before
    assert lib.get("combat-ambush").name == "House Ambush"
    spec = lib.render("combat-ambush", {"foe": "pirates"})
    assert spec.title == "Fight the pirates"
    assert spec.template_id == "combat-ambush"


BAD_FILES = [
    pytest.param(with_title("{{a{{b}}}}"), id="nested"),
    pytest.param(with_title("{{ghost}}"), id="undeclared"),
    pytest.param(with_param("extra", {"type": "int", "max": 3, "default": 4}), id="bad-default"),
    pytest.param(minimal(category="romance"), id="bad-field"),
    pytest.param('{"id": "oops",', id="bad-json"),
]


@pytest.mark.parametrize("bad", BAD_FILES)
def test_one_bad_file_leaves_the_library_unchanged(
    lib: TemplateLibrary, tmp_path: Path, bad: dict[str, Any] | str
) -> None:
    before = {t.id: t for t in lib.list()}
    write(tmp_path, "a-good.json", minimal(id="user-good"))
    write(tmp_path, "a-override.json", minimal(id="combat-ambush", name="Should Not Apply"))
    write(tmp_path, "b-bad.json", bad)
    with pytest.raises(TemplateError):
        lib.load_folder(tmp_path)
    assert {t.id: t for t in lib.list()} == before
    assert "user-good" not in lib
    assert lib.get("combat-ambush").name == "Ambush Encounter"


@pytest.mark.parametrize("bad", BAD_FILES)
def test_bad_file_error_names_the_file(
    lib: TemplateLibrary, tmp_path: Path, bad: dict[str, Any] | str
) -> None:
    write(tmp_path, "a-good.json", minimal(id="user-good"))
    write(tmp_path, "b-bad.json", bad)
    with pytest.raises(TemplateError) as exc:
        lib.load_folder(tmp_path)
    assert "b-bad.json" in str(exc.value)
    assert "a-good.json" not in str(exc.value)


def test_malformed_json_in_folder_names_file_line_and_column(
    lib: TemplateLibrary, tmp_path: Path
) -> None:
    write(tmp_path, "broken.json", '{\n  "id": "x",\n  "name": "X",,\n}')
    with pytest.raises(TemplateError) as exc:
        lib.load_folder(tmp_path)
    message = str(exc.value)
    assert str(tmp_path / "broken.json") in message
    assert "line 3 column 15" in message


def test_non_utf8_file_is_reported_by_name(lib: TemplateLibrary, tmp_path: Path) -> None:
    (tmp_path / "latin1.json").write_bytes(b'{"id": "caf\xe9"}')
    with pytest.raises(TemplateError) as exc:
        lib.load_folder(tmp_path)
    assert "latin1.json" in str(exc.value)
    assert "UTF-8" in str(exc.value)


def test_missing_folder_is_reported(lib: TemplateLibrary, tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as exc:
        lib.load_folder(tmp_path / "nowhere")
    assert "nowhere" in str(exc.value)


def test_unknown_template_id_lists_known_ids(lib: TemplateLibrary) -> None:
    with pytest.raises(TemplateNotFound) as exc:
        lib.get("combat-ambus")
    assert exc.value.template_id == "combat-ambus"
    assert "combat-ambush" in str(exc.value)
    assert "combat-boss-duel" in str(exc.value)
    with pytest.raises(TemplateNotFound):
        lib.render("no-such-template", {})
    with pytest.raises(LookupError):  # games can catch it as a plain lookup failure
        lib.get("")


def test_library_from_explicit_templates() -> None:
    lib = TemplateLibrary([parse(minimal())])
    assert len(lib) == 1
    assert [t.id for t in lib.list("combat")] == ["test-minimal"]
    assert lib.list("stealth") == []


# -- difficulty and language -----------------------------------------------------------


@pytest.mark.parametrize(("label", "value"), [("easy", 0.3), ("medium", 0.5), ("hard", 0.8)])
def test_difficulty_label_sets_difficulty(label: str, value: float) -> None:
    spec = render(parse(minimal(difficulty=label)), {"foe": "rats"})
    assert spec.difficulty == value


def test_builtin_difficulty_labels(lib: TemplateLibrary) -> None:
    assert lib.render("combat-boss-duel", {"boss_name": "Grimjaw"}).difficulty == 0.8
    assert lib.render("puzzle-riddle-sphinx", {"riddles": 2}).difficulty == 0.3
    assert ambush(lib).difficulty == 0.5


def test_explicit_difficulty_overrides_label(lib: TemplateLibrary) -> None:
    spec = lib.render("combat-boss-duel", {"boss_name": "Grimjaw"}, difficulty=0.35)
    assert spec.difficulty == 0.35
    spec = render(parse(minimal(difficulty="easy")), {"foe": "rats"}, difficulty=0.9)
    assert spec.difficulty == 0.9


def test_difficulty_argument_beats_structure_which_beats_label(lib: TemplateLibrary) -> None:
    spec = lib.render("puzzle-clockwork-tower", {"difficulty": 0.2}, difficulty=0.9)
    assert spec.difficulty == 0.9
    spec = lib.render("puzzle-clockwork-tower", {"difficulty": 0.2})
    assert spec.difficulty == 0.2
    assert lib.render("puzzle-clockwork-tower").difficulty == 0.5  # label "medium"


@pytest.mark.parametrize("bad", [0.0, 1.5, math.nan])
def test_out_of_range_difficulty_override_is_refused(lib: TemplateLibrary, bad: float) -> None:
    with pytest.raises(ValidationFailed) as exc:
        lib.render("combat-ambush", {"enemy_type": "x", "enemy_count": 1}, difficulty=bad)
    assert "difficulty" in str(exc.value)


def test_language_override(lib: TemplateLibrary) -> None:
    assert ambush(lib).language == "en"
    params = {"enemy_type": "Wölfe", "enemy_count": 3}
    assert lib.render("combat-ambush", params, language="de").language == "de"
    assert lib.render("combat-ambush", params, language="pt-BR").language == "pt-BR"
    with pytest.raises(ValidationFailed) as exc:
        lib.render("combat-ambush", params, language="not a language")
    assert "language" in str(exc.value)


def test_each_render_gets_a_fresh_id_unless_one_is_given(lib: TemplateLibrary) -> None:
    a, b = ambush(lib), ambush(lib)
    assert a.id != b.id
    assert a.id.startswith("enc_")
    spec = render(
        lib.get("combat-ambush"), {"enemy_type": "x", "enemy_count": 1}, encounter_id="enc_fixed"
    )
    assert spec.id == "enc_fixed"
