"""Prompt templates (issue 14, item 6): the built-in library in three languages, your own and your
workspace's with versions, rendering with every variable named, and nobody else's template ever seen."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.fakes.provider import FakeProvider
from tests.support.helpers import User, assert_error, balance, sign_up
from tests.support.workspaces import create, join

MINE = {
    "name": "Release notes",
    "category": "writing",
    "language": "en",
    "body": "Write release notes for {{product}} version {{version}}.",
    "variables": {"product": "The product", "version": "The version number"},
}


def test_the_library_has_150_templates_in_three_languages(client: httpx.Client, user: User) -> None:
    data = client.get("/v1/templates", headers=user.headers).json()["data"]
    builtin = [t for t in data if t["owner"] == "builtin"]
    assert len(builtin) >= 150
    assert {t["language"] for t in builtin} >= {"en", "es", "bn"}
    assert {t["category"] for t in builtin} == {"writing", "marketing", "code", "study", "business"}
    bengali = client.get(
        "/v1/templates", params={"language": "bn", "category": "study"}, headers=user.headers
    )
    assert len(bengali.json()["data"]) == 10 and all(t["language"] == "bn" for t in bengali.json()["data"])
    one = client.get("/v1/templates/tpl_summarize_es", headers=user.headers).json()
    assert [v["name"] for v in one["variables"]] == ["length", "text"] and one["variables"][0]["description"]


def test_rendering_names_what_is_missing_or_unknown(client: httpx.Client, user: User) -> None:
    path = "/v1/templates/tpl_summarize_en/render"
    done = client.post(
        path, json={"variables": {"text": "A long text.", "length": "one line"}}, headers=user.headers
    )
    assert done.status_code == 200, done.text
    assert (
        done.json()["text"].startswith("Summarize the text below in one line.")
        and "A long text." in done.json()["text"]
    )
    missing = client.post(path, json={"variables": {"text": "x"}}, headers=user.headers)
    assert_error(missing, 400, "missing_variables")
    assert "length" in missing.json()["error"]["message"]
    extra = client.post(
        path, json={"variables": {"text": "x", "length": "y", "tone": "z"}}, headers=user.headers
    )
    assert_error(extra, 400, "unknown_variables")
    assert "tone" in extra.json()["error"]["message"]
    assert_error(
        client.post(path, json={"variables": {"text": 3, "length": "y"}}, headers=user.headers),
        400,
        "invalid_variable",
    )


def test_my_templates_have_versions_and_are_nobody_elses(client: httpx.Client, make_user: Any) -> None:
    me, other = make_user(), make_user()
    created = client.post("/v1/templates", json=MINE, headers=me.headers)
    assert created.status_code == 201, created.text
    tid = created.json()["id"]
    assert created.json()["owner"] == "user" and created.json()["version"] == 1
    changed = client.patch(
        f"/v1/templates/{tid}",
        json={**MINE, "body": "Notes for {{product}} {{version}}."},
        headers=me.headers,
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    versions = client.get(f"/v1/templates/{tid}/versions", headers=me.headers).json()["data"]
    assert [v["version"] for v in versions] == [2, 1] and versions[1]["body"] == MINE["body"]
    assert tid in [t["id"] for t in client.get("/v1/templates", headers=me.headers).json()["data"]]
    # Somebody else: not listed, not found, whatever they try; nothing changes.
    assert tid not in [t["id"] for t in client.get("/v1/templates", headers=other.headers).json()["data"]]
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", MINE),
        ("DELETE", "", None),
        ("POST", "/render", {"variables": {}}),
    ):
        answer = client.request(method, f"/v1/templates/{tid}{suffix}", json=body, headers=other.headers)
        assert_error(answer, 404, "template_not_found")
    assert client.get(f"/v1/templates/{tid}", headers=me.headers).json()["version"] == 2
    assert client.delete(f"/v1/templates/{tid}", headers=me.headers).status_code == 204
    assert_error(client.get(f"/v1/templates/{tid}", headers=me.headers), 404, "template_not_found")


def test_bad_templates_are_refused_and_builtins_are_read_only(client: httpx.Client, user: User) -> None:
    unused = {**MINE, "variables": {**MINE["variables"], "audience": "Never used"}}
    assert client.post("/v1/templates", json=unused, headers=user.headers).status_code == 422
    huge = {**MINE, "body": "x" * 20_001}
    assert client.post("/v1/templates", json=huge, headers=user.headers).status_code == 422
    assert (
        client.post("/v1/templates", json={**MINE, "owner": "builtin"}, headers=user.headers).status_code
        == 422
    )
    assert_error(
        client.patch("/v1/templates/tpl_summarize_en", json=MINE, headers=user.headers),
        409,
        "builtin_template",
    )
    assert_error(
        client.delete("/v1/templates/tpl_summarize_en", headers=user.headers), 409, "builtin_template"
    )
    assert_error(client.get("/v1/templates/tpl_nope", headers=user.headers), 404, "template_not_found")
    mine = [
        t for t in client.get("/v1/templates", headers=user.headers).json()["data"] if t["owner"] != "builtin"
    ]
    assert mine == []  # nothing was created by the refused requests


def test_a_workspaces_templates_are_its_members_and_its_admins_edit_them(
    client: httpx.Client, make_user: Any
) -> None:
    owner, member, outsider = make_user(), make_user(), make_user()
    ws = create(client, owner)["id"]
    join(client, owner, ws, member)
    made = client.post("/v1/templates", json=MINE, headers={**owner.headers, "X-Workspace-ID": ws})
    assert made.status_code == 201 and made.json()["owner"] == "workspace"
    tid = made.json()["id"]
    listed = client.get("/v1/templates", headers={**member.headers, "X-Workspace-ID": ws}).json()["data"]
    assert tid in [t["id"] for t in listed]
    rendered = client.post(
        f"/v1/templates/{tid}/render",
        json={"variables": {"product": "Acme", "version": "2"}},
        headers=member.headers,
    )
    assert rendered.json()["text"] == "Write release notes for Acme version 2."
    assert_error(
        client.patch(f"/v1/templates/{tid}", json=MINE, headers=member.headers), 403, "role_required"
    )
    assert_error(
        client.post("/v1/templates", json=MINE, headers={**member.headers, "X-Workspace-ID": ws}),
        403,
        "role_required",
    )
    assert_error(client.get(f"/v1/templates/{tid}", headers=outsider.headers), 404, "template_not_found")
    assert_error(
        client.get("/v1/templates", headers={**outsider.headers, "X-Workspace-ID": ws}),
        404,
        "workspace_not_found",
    )


def test_rendering_is_rate_limited(client: httpx.Client) -> None:
    user = sign_up(client, headers={"X-Forwarded-For": f"192.0.2.{uuid.uuid4().int % 250}"})
    body = {"variables": {"text": "x", "length": "y"}}
    codes = [
        client.post("/v1/templates/tpl_summarize_en/render", json=body, headers=user.headers).status_code
        for _ in range(60)
    ]
    assert codes[0] == 200 and 429 in codes


def test_chat_sends_a_rendered_template_as_the_prompt(
    client: httpx.Client, make_user: Any, fake_provider: FakeProvider
) -> None:
    me, other = make_user(), make_user()
    mine = {**MINE, "body": "[[echo]] Release notes for {{product}} {{version}} please"}
    tid = client.post("/v1/templates", json=mine, headers=me.headers).json()["id"]
    history = [{"role": "system", "content": "You write tersely."}]
    body = {"model": "fake-echo", "messages": history, "template_id": tid, "max_tokens": 40}
    answer = client.post(
        "/v1/chat/completions",
        json={**body, "variables": {"product": "Kite", "version": "2.1"}},
        headers=me.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "Release notes for Kite 2.1 please"
    sent = fake_provider.calls_for("fake-echo")[-1].body["messages"]
    assert sent[0] == history[0] and sent[-1]["role"] == "user" and "Kite 2.1" in sent[-1]["content"]
    assert "template_id" not in fake_provider.calls_for("fake-echo")[-1].body

    before = balance(client, me.headers)
    assert_error(
        client.post(
            "/v1/chat/completions", json={**body, "variables": {"product": "Kite"}}, headers=me.headers
        ),
        400,
        "missing_variables",
    )
    assert_error(
        client.post(
            "/v1/chat/completions",
            json={**body, "variables": {"product": "Kite", "version": "2", "colour": "red"}},
            headers=me.headers,
        ),
        400,
        "unknown_variables",
    )
    assert_error(
        client.post("/v1/chat/completions", json={**body, "variables": {}}, headers=other.headers),
        404,
        "template_not_found",
    )
    assert balance(client, me.headers) == before  # refused before anything was reserved
    no_prompt = client.post(
        "/v1/chat/completions", json={"model": "fake-echo", "messages": []}, headers=me.headers
    )
    assert no_prompt.status_code == 422


def test_a_builtin_template_is_a_prompt_too(client: httpx.Client, user: User) -> None:
    listed = client.get("/v1/templates", params={"language": "en"}, headers=user.headers).json()["data"]
    builtin = next(t for t in listed if t["owner"] == "builtin" and t["variables"])
    values = {v["name"]: "x" for v in builtin["variables"]}
    answer = client.post(
        "/v1/chat/completions",
        json={"model": "fake-echo", "template_id": builtin["id"], "variables": values, "max_tokens": 3},
        headers=user.headers,
    )
    assert answer.status_code == 200, answer.text
