"""What a template is, as clients send and see it."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.templates.render import placeholders

Category = Literal["writing", "marketing", "code", "study", "business", "other"]
Owner = Literal["builtin", "user", "workspace"]
MAX_BODY_CHARS = 20_000
MAX_VARIABLES = 30


class Variable(BaseModel):
    name: str
    description: str = ""


class TemplateIn(BaseModel):
    """POST /v1/templates (and PATCH, which sends the whole new version)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    category: Category = "other"
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")
    body: str = Field(min_length=1, max_length=MAX_BODY_CHARS)
    # Each variable's description; the names must be exactly the body's placeholders.
    variables: dict[str, str] = Field(default_factory=dict, max_length=MAX_VARIABLES)

    @model_validator(mode="after")
    def _variables_match_the_body(self) -> TemplateIn:
        named = placeholders(self.body)
        if len(named) > MAX_VARIABLES:
            raise ValueError(f"a template has at most {MAX_VARIABLES} variables")
        undescribed = [n for n in named if n not in self.variables]
        unused = [n for n in self.variables if n not in named]
        for name in undescribed:
            self.variables[name] = ""  # a placeholder without a description is still a variable
        if unused:
            raise ValueError(f"variables not in the body: {', '.join(unused)}")
        if any(len(d) > 500 for d in self.variables.values()):
            raise ValueError("a variable's description has at most 500 characters")
        return self


class Template(BaseModel):
    id: str
    object: Literal["template"] = "template"
    name: str
    category: str
    language: str
    body: str
    variables: list[Variable]
    owner: Owner
    workspace_id: str | None = None
    version: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class TemplateList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Template]


class RenderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    variables: dict[str, object] = Field(default_factory=dict, max_length=MAX_VARIABLES)


class Rendered(BaseModel):
    object: Literal["template.rendered"] = "template.rendered"
    template_id: str
    version: int
    text: str
