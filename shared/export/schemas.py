"""What an export job takes: a source (one of the caller's threads, or one of their finished research
jobs) and the formats to render it to."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Format = Literal["pdf", "docx"]
MAX_ID = 128


def _all_formats() -> list[Format]:
    return ["pdf", "docx"]


class ThreadSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thread_id: str = Field(min_length=1, max_length=MAX_ID, pattern=r"^[^/]+$")


class ResearchSource(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str = Field(min_length=1, max_length=MAX_ID, pattern=r"^[^/]+$")


class ExportInput(BaseModel):
    source: ThreadSource | ResearchSource
    formats: list[Format] = Field(default_factory=_all_formats, min_length=1, max_length=2)
    title: str | None = Field(None, min_length=1, max_length=200)

    @field_validator("formats")
    @classmethod
    def _unique(cls, formats: list[Format]) -> list[Format]:
        if len(set(formats)) != len(formats):
            raise ValueError("each format at most once")
        return formats
