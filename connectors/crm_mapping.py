"""Declarative mapping from a customer-360 profile to the body of a CRM contact.

The default copies the profile's own field names (CONTRACT §4/§5); a YAML spec can rename
fields, set constants and render Jinja2 templates, so a real CRM's field names need no code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from jinja2 import Template, TemplateError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from connectors.errors import MappingError

DEFAULT_FIELDS: Final = (
    "customer_id",
    "salutation",
    "letter_salutation",
    "first_name",
    "last_name",
    "gender",
    "title",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
    "lead_status",
    "lead_score",
    "interests",
    "orders",
    "consent",
    "updated_at",
)
"""Profile fields a contact carries by default, under the same names."""

_TEMPLATES: Final = ImmutableSandboxedEnvironment(
    autoescape=select_autoescape(enabled_extensions=(), default_for_string=False)
)


@dataclass(frozen=True)
class FieldRule:
    """How one contact field gets its value: exactly one of `source`, `constant`, `template`.

    Attributes:
        target: Name of the contact field.
        source: Dotted path of a profile field to copy (e.g. `orders.count`).
        constant: A fixed value.
        template: Jinja2 template rendered with the profile's fields as variables.
    """

    target: str
    source: str | None = None
    constant: Any = None
    template: Template | None = None

    def value(self, profile: Mapping[str, Any]) -> Any:
        """Compute the field's value for a profile (JSON form).

        Raises:
            MappingError: The template failed to render.
        """
        if self.source is not None:
            return _lookup(profile, self.source)
        if self.template is not None:
            try:
                return self.template.render(profile)
            except Exception as exc:  # a user's template can fail in any way (1 / 0, None + 1)
                msg = f"template of contact field {self.target!r} failed: {exc}"
                raise MappingError(msg) from exc
        return self.constant


@dataclass(frozen=True)
class FieldMapping:
    """The rules that build a contact body, in output order."""

    rules: tuple[FieldRule, ...]

    def apply(self, profile: Mapping[str, Any]) -> dict[str, Any]:
        """Build the contact body of a profile given in JSON form.

        Raises:
            MappingError: A rule could not be applied.
        """
        return {rule.target: rule.value(profile) for rule in self.rules}


DEFAULT_MAPPING: Final = FieldMapping(
    tuple(FieldRule(field, source=field) for field in DEFAULT_FIELDS)
)
"""Every field of `DEFAULT_FIELDS` copied under its own name."""


def _lookup(profile: Mapping[str, Any], path: str) -> Any:
    value: Any = profile
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _rule(target: str, spec: object) -> FieldRule:
    if isinstance(spec, str):
        return FieldRule(target, source=spec)
    if isinstance(spec, Mapping) and len(spec) == 1:
        ((kind, value),) = spec.items()
        if kind == "constant":
            return FieldRule(target, constant=value)
        if kind == "template" and isinstance(value, str):
            try:
                return FieldRule(target, template=_TEMPLATES.from_string(value))
            except TemplateError as exc:
                msg = f"contact field {target!r}: template does not parse: {exc}"
                raise MappingError(msg) from exc
    msg = (
        f"contact field {target!r}: expected a profile field name, "
        f"{{constant: value}}, {{template: 'text'}} or null, got {spec!r}"
    )
    raise MappingError(msg)


def parse_mapping(spec: Mapping[str, Any]) -> FieldMapping:
    """Build a mapping from its spec (the parsed YAML document).

    The spec has `fields`, a map from contact field to one of: a profile field name or
    dotted path (copy/rename), `{constant: value}`, `{template: "Jinja2 text"}`, or null to
    leave a default field out. With `extends: default` (the default) the rules add to and
    override `DEFAULT_MAPPING`; with `extends: none` only the given fields are sent::

        extends: default
        fields:
          external_ref: customer_id
          source_system: {constant: journeyhub}
          display_name: {template: "{{ first_name }} {{ last_name }}"}
          phone: null

    Raises:
        MappingError: The spec is malformed; the message names the offending field.
    """
    extends = spec.get("extends", "default")
    if extends not in ("default", "none"):
        msg = f"mapping 'extends' must be 'default' or 'none', got {extends!r}"
        raise MappingError(msg)
    fields = spec.get("fields") or {}
    if not isinstance(fields, Mapping):
        msg = "mapping 'fields' must be a map from contact field to rule"
        raise MappingError(msg)
    unknown = sorted(set(spec) - {"extends", "fields"})
    if unknown:
        msg = f"unknown mapping keys {unknown}; expected 'extends' and 'fields'"
        raise MappingError(msg)
    rules = {rule.target: rule for rule in DEFAULT_MAPPING.rules} if extends == "default" else {}
    for target, rule_spec in fields.items():
        if rule_spec is None:
            rules.pop(str(target), None)
        else:
            rules[str(target)] = _rule(str(target), rule_spec)
    return FieldMapping(tuple(rules.values()))


def load_mapping(path: Path) -> FieldMapping:
    """Read a mapping spec from a YAML file (see `parse_mapping`).

    Raises:
        MappingError: The file cannot be read, is not YAML, or the spec is malformed.
    """
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        msg = f"cannot read the CRM mapping {path}: {exc}"
        raise MappingError(msg) from exc
    if not isinstance(spec, Mapping):
        msg = f"the CRM mapping {path} must be a YAML map with 'fields'"
        raise MappingError(msg)
    try:
        return parse_mapping(spec)
    except MappingError as exc:
        msg = f"{path}: {exc}"
        raise MappingError(msg) from exc
