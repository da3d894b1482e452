"""Reading a request body with a size limit, before anything else looks at it."""

from __future__ import annotations

from starlette.requests import Request


async def read_limited_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is (or declares itself) larger than `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
