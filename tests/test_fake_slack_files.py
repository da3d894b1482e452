"""The fake Slack's file upload flow, driven by slack-sdk's own `files_upload_v2`."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.answers.upload import UploadFailed, upload_to_dm


def client_for(fake: Any) -> AsyncWebClient:
    return AsyncWebClient(token=fake.bot_token, base_url=fake.api_url)


async def test_files_upload_v2_reaches_the_fake_and_is_recorded(fake_slack: Any) -> None:
    done = await client_for(fake_slack).files_upload_v2(
        channel="D1", filename="users.csv", title="Users", content=b"a,b\r\n1,2\r\n",
        initial_comment="here",
    )  # fmt: skip
    [upload] = fake_slack.uploads()
    assert done["file"]["id"] == upload.file_id
    assert (upload.filename, upload.title, upload.channel_id) == ("users.csv", "Users", "D1")
    assert upload.content == b"a,b\r\n1,2\r\n"
    assert upload.declared_length == len(upload.content)
    assert upload.initial_comment == "here"
    [url_call] = fake_slack.calls("files.getUploadURLExternal")
    assert url_call.response["upload_url"].startswith(fake_slack.base_url + "/upload/")
    fake_slack.reset()
    assert fake_slack.uploads() == []


async def test_a_refused_upload_url_fails_the_sdk_call(fake_slack: Any) -> None:
    fake_slack.fail_uploads(500, times=3)
    with pytest.raises(SlackRequestError):
        await client_for(fake_slack).files_upload_v2(channel="D1", filename="x.csv", content=b"x")
    assert fake_slack.uploads() == []


async def test_completing_a_file_that_was_never_uploaded_is_refused(fake_slack: Any) -> None:
    client = client_for(fake_slack)
    issued = await client.files_getUploadURLExternal(filename="x.csv", length=1)
    with pytest.raises(SlackApiError) as raised:
        await client.files_completeUploadExternal(files=[{"id": issued["file_id"]}])
    assert raised.value.response["error"] == "file_not_found"
    async with httpx.AsyncClient() as http:
        unknown = await http.post(fake_slack.base_url + "/upload/F-unknown", content=b"x")
    assert unknown.status_code == 404


async def test_the_retired_files_upload_is_refused(fake_slack: Any) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client_for(fake_slack).api_call("files.upload", data={"content": "x"})
    assert raised.value.response["error"] == "method_deprecated"


async def test_upload_to_dm_opens_the_dm_then_uploads(fake_slack: Any) -> None:
    await upload_to_dm(
        client_for(fake_slack), "U5", filename="f.csv", content=b"x", comment="c", deadline_s=10
    )
    assert [c.method for c in fake_slack.calls()] == [
        "conversations.open",
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert fake_slack.uploads()[0].channel_id == "D5"


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("missing_scope", "`files:write`"),
        ("not_allowed_token_type", "`xoxb-…`"),
        ("weird<!channel>", "`weird&lt;!channel&gt;`"),
    ],
)
async def test_upload_failures_have_one_line_hints(fake_slack: Any, code: str, hint: str) -> None:
    fake_slack.fail_next("files.getUploadURLExternal", error=code)
    with pytest.raises(UploadFailed) as raised:
        await upload_to_dm(
            client_for(fake_slack), "U5", filename="f.csv", content=b"x", comment="", deadline_s=10
        )
    assert raised.value.code == code
    assert hint in raised.value.hint
    assert "\n" not in raised.value.hint
