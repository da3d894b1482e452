"""A local fake Slack: Web API + response_url receiver, served over real HTTP on loopback.

Modelled on bolt-python's own ``tests/mock_web_api_server``, but as a Starlette app run by
uvicorn in a thread (see ``bot.demo.servers.serve_in_thread``), so the real ``slack_sdk``
clients (aiohttp underneath) talk to it exactly as they talk to slack.com.

Example::

    from slack_sdk.web.async_client import AsyncWebClient

    from bot.demo.fake_slack import running_fake_slack


    async def test_posts_a_message() -> None:
        with running_fake_slack() as fake:
            fake.set_channel("C_ARCHIVED", is_archived=True)
            fake.fail_next("chat.postMessage", status=429, retry_after=1)
            client = AsyncWebClient(token="xoxb-test-token", base_url=fake.api_url)
            ...  # exercise the code under test
            [call] = fake.wait_for_calls("chat.postMessage")
            assert call.args["blocks"][0]["type"] == "section"

            url = fake.new_response_url()  # pass as a slash command's response_url
            ...
            [reply] = fake.wait_for_responses(response_id=url.rsplit("/", 1)[1])
            assert reply.body["response_type"] == "ephemeral"

Thread-safety: the server handles requests in its own thread and event loop; every piece of
state is guarded by one ``threading.RLock`` and waiters block on a ``threading.Condition``. The
``wait_for_*`` helpers block the calling thread, so in an async test call them only after the
awaited work has been scheduled or done (or run them with ``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bot.demo.servers import serve_in_thread

DEFAULT_BOT_TOKEN = "xoxb-test-token"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
TEAM_NAME = "Test"
TEAM_URL = "https://test.slack.com/"

# Fields Slack takes as JSON-encoded strings inside form bodies; decoded when recording a call.
JSON_FIELDS = frozenset(
    {
        "attachments",
        "blocks",
        "files",
        "metadata",
        "options",
        "option_groups",
        "outputs",
        "prompts",
        "profile",
        "unfurls",
        "user_auth_blocks",
        "view",
    }
)

_FIRST_TS_MICROS = 1_700_000_000_000_100
_TS_STEP_MICROS = 100

Answer = dict[str, Any] | Callable[["SlackCall"], dict[str, Any]]


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as received.

    ``args`` merges query string and body (form or JSON), JSON fields decoded; ``headers`` has
    lower-case names. ``status`` and ``response`` are what the fake answered.
    """

    method: str
    args: dict[str, Any]
    headers: dict[str, str]
    http_method: str = "POST"
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)  # wall clock, comparable across processes

    @property
    def token(self) -> str | None:
        """The token sent: ``Authorization: Bearer`` header, else a ``token`` argument."""
        return _token_of(self.headers, self.args)


@dataclass(frozen=True)
class ResponseCall:
    """One POST to a response_url. ``body`` is the decoded JSON object ({} if not JSON)."""

    id: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    raw: str = ""
    peer: str = ""  # the sender's address and port: equal for posts on one kept-alive connection


@dataclass(frozen=True)
class FileUpload:
    """A file shared with files.completeUploadExternal: what was uploaded, and where to."""

    file_id: str
    filename: str
    title: str
    channel_id: str
    initial_comment: str
    content: bytes
    declared_length: int


@dataclass
class _PendingUpload:
    file_id: str
    filename: str
    length: int
    content: bytes | None = None


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int


@dataclass
class _Channel:
    is_member: bool = True
    is_archived: bool = False
    members: tuple[str, ...] = ()  # who conversations.members lists (the bot's own id aside)


def _token_of(headers: dict[str, str], args: dict[str, Any]) -> str | None:
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[len("bearer ") :].strip()
    token = args.get("token")
    return token if isinstance(token, str) else None


def _decode_json_fields(args: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = {}
    for name, value in args.items():
        if name in JSON_FIELDS and isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                decoded[name] = json.loads(value)
            except json.JSONDecodeError:
                decoded[name] = value
        else:
            decoded[name] = value
    return decoded


def _default_fault_error(status: int) -> str:
    if status == 429:
        return "ratelimited"
    if status >= 500:
        return "internal_error"
    return "fatal_error"


class FakeSlack:
    """State and Starlette app (``.app``) of a fake Slack. Serve it with ``running_fake_slack``.

    Web API: ``GET``/``POST /api/<method>``; response_url receiver: ``POST /response/<id>``;
    file bytes: ``POST /upload/<file id>`` (the upload_url files.getUploadURLExternal hands out;
    files.completeUploadExternal then records a ``FileUpload``, see ``uploads()``). The retired
    ``files.upload`` answers ``method_deprecated``.
    A call whose token is not ``bot_token`` answers ``invalid_auth`` (before any scripted fault).
    """

    def __init__(self, bot_token: str = DEFAULT_BOT_TOKEN, *, response_url_limit: int | None = 5):
        self.bot_token = bot_token
        self.app_token = "xapp-1-test-app-token"  # Socket Mode: apps.connections.open
        self.socket = FakeSocketMode()
        # Slack accepts up to 5 posts per response_url; later ones get 404 "used_url".
        self.response_url_limit = response_url_limit
        self.base_url = ""
        self.api_url = ""
        # Called with every body the bot sends (API calls and response_url posts); survives
        # reset(), so a test session can inspect everything that was ever sent to "Slack".
        self.observers: list[Callable[[str, bytes], None]] = []
        self._lock = threading.RLock()  # re-entrant: set_answer callables may inspect the fake
        self._changed = threading.Condition(self._lock)
        self._reset_state()
        self.app = Starlette(
            routes=[
                Route("/api/{method:str}", self._api_endpoint, methods=["GET", "POST"]),
                Route("/response/{response_id:str}", self._response_endpoint, methods=["POST"]),
                Route("/upload/{file_id:str}", self._upload_endpoint, methods=["POST"]),
                WebSocketRoute("/socket", self.socket.endpoint),
            ]
        )

    # ------------------------------------------------------------------ configuration

    def _reset_state(self) -> None:
        self._calls: list[SlackCall] = []
        self._responses: list[ResponseCall] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._response_faults: list[tuple[int, int]] = []  # [status, remaining]
        self._channels: dict[str, _Channel] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._answers: dict[str, Answer] = {}
        self._ts_counter = 0
        self._view_counter = 0
        self._pending_uploads: dict[str, _PendingUpload] = {}
        self._uploads: list[FileUpload] = []
        self._upload_faults: list[list[int]] = []  # [status, remaining]
        self._file_counter = 0
        self._function_tokens: set[str] = set()

    def reset(self) -> None:
        """Forget calls, responses, scripted faults and all configuration (token and URL stay)."""
        with self._changed:
            self._reset_state()
            self._changed.notify_all()

    def fail_next(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``.

        ``error`` defaults to ``ratelimited`` for 429, ``internal_error`` for 5xx, else
        ``fatal_error``. ``retry_after`` adds a ``Retry-After`` header. Faults queue up FIFO.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        fault = _Fault(error or _default_fault_error(status), status, retry_after, times)
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    def set_channel(
        self,
        channel_id: str,
        *,
        is_member: bool = True,
        is_archived: bool = False,
        members: tuple[str, ...] = (),
    ) -> None:
        """Configure a channel for conversations.info / .members / .join and chat.postMessage."""
        with self._lock:
            self._channels[channel_id] = _Channel(
                is_member=is_member, is_archived=is_archived, members=tuple(members)
            )

    def set_usergroup(self, group_id: str, user_ids: list[str]) -> None:
        """Members answered by usergroups.users.list (unknown groups answer no_such_subteam)."""
        with self._lock:
            self._usergroups[group_id] = list(user_ids)

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Override fields of the user object users.info answers (e.g. ``deleted=True``)."""
        with self._lock:
            self._users.setdefault(user_id, {}).update(fields)

    def set_answer(self, method: str, answer: Answer) -> None:
        """Replace the default answer of ``method`` (a dict, or a function of the SlackCall).

        Token checks and scripted faults still apply first. The answer is sent with HTTP 200.
        """
        with self._lock:
            self._answers[method] = answer

    def new_function_token(self) -> str:
        """A fresh just-in-time ``xwfp-`` token, as a ``function_executed`` event carries.

        Calls made with it are accepted like the bot token's; a test tells which was sent.
        """
        token = f"xwfp-{uuid.uuid4().hex}"
        with self._lock:
            self._function_tokens.add(token)
        return token

    def new_response_url(self) -> str:
        """A fresh ``<base>/response/<uuid>`` URL whose posts are recorded."""
        if not self.base_url:
            raise RuntimeError("FakeSlack is not served: use running_fake_slack()")
        return f"{self.base_url}/response/{uuid.uuid4().hex}"

    def fail_uploads(self, status: int, times: int = 1) -> None:
        """The next ``times`` POSTs of file bytes to an upload URL answer HTTP ``status``."""
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._upload_faults.append([status, times])

    def fail_response_urls(self, status: int, times: int = 1) -> None:
        """The next ``times`` posts to any response_url answer HTTP ``status`` (still recorded)."""
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._response_faults.append((status, times))

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str | None = None) -> list[SlackCall]:
        """Recorded Web API calls, oldest first; only ``method``'s when given."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def function_completions(self, execution_id: str | None = None) -> list[SlackCall]:
        """``functions.completeSuccess``/``completeError`` calls Slack accepted, oldest first;
        only those for ``execution_id`` when given (failed attempts are in ``calls()``)."""
        with self._lock:
            return [
                c
                for c in self._calls
                if c.method in _COMPLETION_METHODS
                and c.response.get("ok") is True
                and (execution_id is None or c.args.get("function_execution_id") == execution_id)
            ]

    def responses(self, response_id: str | None = None) -> list[ResponseCall]:
        """Recorded response_url posts, oldest first; only ``response_id``'s when given."""
        with self._lock:
            return [r for r in self._responses if response_id is None or r.id == response_id]

    def uploads(self) -> list[FileUpload]:
        """Files completed with files.completeUploadExternal, oldest first (bytes included)."""
        with self._lock:
            return list(self._uploads)

    def wait_for_uploads(self, count: int = 1, timeout: float = 5.0) -> list[FileUpload]:
        """Block until ``count`` files were completed; return all of them so far."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._uploads) >= count, timeout=timeout):
                raise AssertionError(
                    f"expected {count} upload(s) within {timeout}s, got {len(self._uploads)}; "
                    f"calls seen: {[c.method for c in self._calls]}"
                )
            return list(self._uploads)

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 5.0) -> list[SlackCall]:
        """Block until ``count`` calls of ``method`` were recorded; return all of them so far."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: sum(c.method == method for c in self._calls) >= count, timeout=timeout
            )
            matching = [c for c in self._calls if c.method == method]
            if not done:
                seen = [c.method for c in self._calls]
                raise AssertionError(
                    f"expected {count} {method} call(s) within {timeout}s, got {len(matching)}; "
                    f"calls seen: {seen}"
                )
            return matching

    def wait_for_completion(self, execution_id: str, timeout: float = 5.0) -> SlackCall:
        """Block until Slack accepted a completion of ``execution_id``; return the first one."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: bool(self.function_completions(execution_id)), timeout=timeout
            )
            if not done:
                raise AssertionError(
                    f"no completion of {execution_id} within {timeout}s; "
                    f"calls seen: {[c.method for c in self._calls]}"
                )
            return self.function_completions(execution_id)[0]

    def wait_for_responses(
        self, count: int = 1, response_id: str | None = None, timeout: float = 5.0
    ) -> list[ResponseCall]:
        """Block until ``count`` response_url posts (to ``response_id`` if given) were recorded."""

        def matching() -> list[ResponseCall]:
            return [r for r in self._responses if response_id is None or r.id == response_id]

        with self._changed:
            done = self._changed.wait_for(lambda: len(matching()) >= count, timeout=timeout)
            found = matching()
            if not done:
                target = f"response_url {response_id}" if response_id else "any response_url"
                raise AssertionError(
                    f"expected {count} post(s) to {target} within {timeout}s, got {len(found)}; "
                    f"all posts seen: {[(r.id, r.body) for r in self._responses]}"
                )
            return found

    # ------------------------------------------------------------------ HTTP endpoints

    def _observe(self, where: str, body: bytes) -> None:
        for observer in list(self.observers):
            observer(where, body)

    async def _api_endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        args: dict[str, Any] = dict(request.query_params)
        raw = await request.body()
        self._observe(f"api/{method}", raw)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if raw and content_type == "application/json":
            try:
                payload = json.loads(raw)
            except json.JSONDecodeError:
                return JSONResponse({"ok": False, "error": "invalid_json"})
            if isinstance(payload, dict):
                args.update(payload)
        elif raw and content_type in ("application/x-www-form-urlencoded", ""):
            args.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        args = _decode_json_fields(args)
        headers = dict(request.headers.items())

        with self._changed:
            status, body, extra_headers = self._answer(method, args, headers)
            self._calls.append(
                SlackCall(
                    method=method,
                    args=args,
                    headers=headers,
                    http_method=request.method,
                    status=status,
                    response=body,
                )
            )
            self._changed.notify_all()
        return JSONResponse(body, status_code=status, headers=extra_headers)

    async def _response_endpoint(self, request: Request) -> Response:
        response_id = request.path_params["response_id"]
        raw_bytes = await request.body()
        self._observe("response_url", raw_bytes)
        raw = raw_bytes.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            parsed = {}
        body = parsed if isinstance(parsed, dict) else {}
        with self._changed:
            status, text = 200, "ok"
            if self._response_faults:
                fault_status, remaining = self._response_faults[0]
                status, text = fault_status, "error"
                if remaining > 1:
                    self._response_faults[0] = (fault_status, remaining - 1)
                else:
                    self._response_faults.pop(0)
            elif self.response_url_limit is not None:
                used = sum(r.id == response_id and r.status == 200 for r in self._responses)
                if used >= self.response_url_limit:
                    status, text = 404, "used_url"
            self._responses.append(
                ResponseCall(
                    id=response_id,
                    body=body,
                    headers=dict(request.headers.items()),
                    status=status,
                    raw=raw,
                    peer=f"{request.client.host}:{request.client.port}" if request.client else "",
                )
            )
            self._changed.notify_all()
        return PlainTextResponse(text, status_code=status)

    async def _upload_endpoint(self, request: Request) -> Response:
        """Where files.getUploadURLExternal's upload_url points: takes the file's bytes."""
        file_id = request.path_params["file_id"]
        content = await request.body()
        self._observe("upload", content)
        with self._changed:
            pending = self._pending_uploads.get(file_id)
            status = 200 if pending is not None else 404
            if pending is not None and self._upload_faults:
                fault = self._upload_faults[0]
                status = fault[0]
                fault[1] -= 1
                if fault[1] <= 0:
                    self._upload_faults.pop(0)
            if status == 200 and pending is not None:
                pending.content = content
            self._changed.notify_all()
        text = f"OK - {len(content)}" if status == 200 else "upload refused"
        return PlainTextResponse(text, status_code=status)

    # ------------------------------------------------------------------ answers (lock held)

    def _answer(
        self, method: str, args: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        token = _token_of(headers, args)
        function_token = method != "apps.connections.open" and token in self._function_tokens
        if token != expected and not function_token:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        queue = self._faults.get(method)
        if queue:
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return fault.status, {"ok": False, "error": fault.error}, extra
        override = self._answers.get(method)
        if override is not None:
            call = SlackCall(method=method, args=args, headers=headers)
            return 200, (override(call) if callable(override) else dict(override)), {}
        return 200, self._default_answer(method, args), {}

    def _next_ts(self) -> str:
        micros = _FIRST_TS_MICROS + self._ts_counter * _TS_STEP_MICROS
        self._ts_counter += 1
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _channel(self, channel_id: str) -> _Channel:
        return self._channels.get(channel_id, _Channel())

    def _default_answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        handler = _DEFAULT_ANSWERS.get(method)
        return handler(self, args) if handler else {"ok": True}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": TEAM_URL,
            "team": TEAM_NAME,
            "user": "license-users-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        state = self._channel(channel)
        if state.is_archived:
            return {"ok": False, "error": "is_archived"}
        if not state.is_member:
            return {"ok": False, "error": "not_in_channel"}
        if not args.get("text") and not args.get("blocks") and not args.get("attachments"):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team": TEAM_ID,
            "text": args.get("text", ""),
            "ts": ts,
        }
        for name in ("blocks", "attachments", "thread_ts", "metadata"):
            if name in args:
                message[name] = args[name]
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not args.get("user"):
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("ts")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        message: dict[str, Any] = {
            "text": args.get("text", ""),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
        }
        if "blocks" in args:
            message["blocks"] = args["blocks"]
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": args.get("text", ""),
            "message": message,
        }

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel, ts = args.get("channel"), args.get("message_ts")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        permalink = f"{TEAM_URL}archives/{channel}/p{str(ts).replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": permalink}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        state = self._channel(channel)
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": f"channel-{channel.lower()}",
                "is_channel": True,
                "is_member": state.is_member,
                "is_archived": state.is_archived,
            },
        }

    def _conversations_join(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        state = self._channel(channel)
        if state.is_archived:
            return {"ok": False, "error": "is_archived"}
        self._channels[channel] = _Channel(is_member=True, members=state.members)
        return {"ok": True, "channel": {"id": channel, "is_member": True, "is_archived": False}}

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        """Members in pages of `limit` (cursor: the next index), as Slack pages them."""
        channel = args.get("channel")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        state = self._channel(channel)
        if not state.is_member:
            return {"ok": False, "error": "not_in_channel"}
        members = [BOT_USER_ID, *state.members]
        start = int(args.get("cursor") or 0)
        limit = max(int(args.get("limit") or 100), 1)
        page = members[start : start + limit]
        following = start + limit
        cursor = str(following) if following < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = args.get("usergroup")
        if group not in self._usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self._usergroups[group])}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("trigger_id") and not args.get("interactivity_pointer"):
            return {"ok": False, "error": "invalid_arguments"}
        view = args.get("view")
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._new_view(view)}

    def _new_view(self, view: dict[str, Any]) -> dict[str, Any]:
        self._view_counter += 1
        view_id = f"V{self._view_counter:08d}"
        return {**view, "id": view_id, "team_id": TEAM_ID, "hash": f"hash.{view_id}"}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not args.get("user_id") or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        if view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._new_view(view)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = args.get("view")
        if not (args.get("view_id") or args.get("external_id")) or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = args.get("view_id") or f"V{self._view_counter:08d}"
        return {"ok": True, "view": {**view, "id": view_id, "team_id": TEAM_ID}}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._views_open(args)

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = str(args.get("users") or "").strip()
        if not users or "," in users:
            return {"ok": False, "error": "users_list_not_supplied" if not users else "not_allowed"}
        channel_id = "D" + users.removeprefix("U").removeprefix("W")[:10]
        return {"ok": True, "channel": {"id": channel_id, "is_im": True, "user": users}}

    def _files_get_upload_url_external(self, args: dict[str, Any]) -> dict[str, Any]:
        filename = str(args.get("filename") or "")
        try:
            length = int(args.get("length", ""))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not filename or length < 0:
            return {"ok": False, "error": "invalid_arguments"}
        self._file_counter += 1
        file_id = f"F{self._file_counter:08d}"
        self._pending_uploads[file_id] = _PendingUpload(file_id, filename, length)
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: dict[str, Any]) -> dict[str, Any]:
        files = args.get("files")
        if not isinstance(files, list) or not files:
            return {"ok": False, "error": "invalid_arguments"}
        channel = str(args.get("channel_id") or "")
        completed: list[FileUpload] = []
        for item in files:
            pending = self._pending_uploads.get(
                str(item.get("id")) if isinstance(item, dict) else ""
            )
            if pending is None or pending.content is None:
                return {"ok": False, "error": "file_not_found"}
            completed.append(
                FileUpload(
                    file_id=pending.file_id,
                    filename=pending.filename,
                    title=str(item.get("title") or pending.filename),
                    channel_id=channel,
                    initial_comment=str(args.get("initial_comment") or ""),
                    content=pending.content,
                    declared_length=pending.length,
                )
            )
        for upload in completed:
            self._pending_uploads.pop(upload.file_id, None)
        self._uploads.extend(completed)
        return {
            "ok": True,
            "files": [
                {"id": u.file_id, "name": u.filename, "title": u.title, "size": len(u.content)}
                for u in completed
            ],
        }

    def _files_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": False, "error": "method_deprecated"}

    def _functions_complete_success(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("function_execution_id"):
            return {"ok": False, "error": "invalid_arguments"}
        if not isinstance(args.get("outputs"), dict):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _functions_complete_error(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("function_execution_id") or not args.get("error"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.base_url.replace("http://", "ws://") + "/socket"}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user_id = args.get("user")
        if not user_id:
            return {"ok": False, "error": "user_not_found"}
        name = str(user_id).lower()
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": f"User {user_id}",
            "deleted": False,
            "is_bot": user_id == BOT_USER_ID,
            "tz": "UTC",
            "profile": {
                "real_name": f"User {user_id}",
                "display_name": name,
                "email": f"{name}@example.com",
            },
        }
        user.update(self._users.get(user_id, {}))
        return {"ok": True, "user": user}


_DEFAULT_ANSWERS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._chat_post_message,
    "chat.postEphemeral": FakeSlack._chat_post_ephemeral,
    "chat.update": FakeSlack._chat_update,
    "chat.getPermalink": FakeSlack._chat_get_permalink,
    "conversations.info": FakeSlack._conversations_info,
    "conversations.join": FakeSlack._conversations_join,
    "conversations.members": FakeSlack._conversations_members,
    "usergroups.users.list": FakeSlack._usergroups_users_list,
    "views.open": FakeSlack._views_open,
    "views.publish": FakeSlack._views_publish,
    "views.update": FakeSlack._views_update,
    "views.push": FakeSlack._views_push,
    "conversations.open": FakeSlack._conversations_open,
    "files.getUploadURLExternal": FakeSlack._files_get_upload_url_external,
    "files.completeUploadExternal": FakeSlack._files_complete_upload_external,
    "files.upload": FakeSlack._files_upload,
    "users.info": FakeSlack._users_info,
    "apps.connections.open": FakeSlack._apps_connections_open,
    "functions.completeSuccess": FakeSlack._functions_complete_success,
    "functions.completeError": FakeSlack._functions_complete_error,
}
_COMPLETION_METHODS = frozenset({"functions.completeSuccess", "functions.completeError"})


@contextmanager
def running_fake_slack(bot_token: str = DEFAULT_BOT_TOKEN) -> Iterator[FakeSlack]:
    """Serve a fresh FakeSlack on loopback; sets ``base_url`` and ``api_url`` (``.../api/``)."""
    fake = FakeSlack(bot_token)
    with serve_in_thread(fake.app) as base_url:
        fake.base_url = base_url
        fake.api_url = f"{base_url}/api/"
        yield fake


class FakeSocketMode:
    """Slack's Socket Mode end: hands envelopes to the connected app and records its acks.

    `send(type, payload)` queues an envelope for the current (or next) connection and returns
    its id; `acks` maps envelope ids to the ack payloads; `disconnect()` drops the connection
    the way Slack does when it refreshes one, so the app must reconnect.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._outbox: list[dict[str, Any]] = []
        self.acks: dict[str, Any] = {}
        self.connections = 0
        self._drop = False

    def send(self, envelope_type: str, payload: dict[str, Any]) -> str:
        envelope_id = uuid.uuid4().hex
        with self._lock:
            self._outbox.append(
                {
                    "envelope_id": envelope_id,
                    "type": envelope_type,
                    "payload": payload,
                    "accepts_response_payload": envelope_type != "events_api",
                }
            )
        return envelope_id

    def disconnect(self) -> None:
        with self._lock:
            self._drop = True

    def wait_for_ack(self, envelope_id: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if envelope_id in self.acks:
                    return self.acks[envelope_id]
            time.sleep(0.02)
        raise AssertionError(f"no ack for envelope {envelope_id}")

    async def endpoint(self, websocket: WebSocket) -> None:
        await websocket.accept()
        with self._lock:
            self.connections += 1
            self._drop = False
        await websocket.send_json({"type": "hello", "num_connections": 1})
        receiver = asyncio.ensure_future(self._receive_acks(websocket))
        try:
            while not receiver.done():
                with self._lock:
                    outgoing, self._outbox = self._outbox, []
                    drop = self._drop
                if drop:
                    await websocket.close()
                    return
                for envelope in outgoing:
                    await websocket.send_json(envelope)
                await asyncio.sleep(0.02)
        finally:
            receiver.cancel()

    async def _receive_acks(self, websocket: WebSocket) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                message = await websocket.receive_json()
                if isinstance(message, dict) and "envelope_id" in message:
                    with self._lock:
                        self.acks[message["envelope_id"]] = message.get("payload")
