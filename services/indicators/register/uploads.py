"""A file sent to the register: a raw body, or a browser's file upload (multipart/form-data).

A browser's file input posts `multipart/form-data`; scripts and curl `--data-binary` post the
file as the body. Both arrive here as the file's bytes. The size limit is the one the app sets
for the path (ConventionsMiddleware counts the bytes read, multipart framing included).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import UploadFile

from shared.problems import BadRequest

FILE_FIELD = "file"
READ_CHUNK = 1024 * 1024


def upload_body(media_type: str, description: str) -> dict[str, Any]:
    """OpenAPI of an endpoint that takes a file as the body or as a multipart upload."""
    return {"requestBody": {"required": True, "content": {
        media_type: {"schema": {"type": "string", "description": description}},
        "multipart/form-data": {"schema": {
            "type": "object", "required": [FILE_FIELD],
            "properties": {FILE_FIELD: {"type": "string", "format": "binary",
                                        "description": description}}}},
    }}}


async def uploaded_file(request: Request) -> bytes:
    """The bytes of the uploaded file, from the body or from a multipart `file` field."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "multipart/form-data":
        return await request.body()
    # One file and a few small fields: a form with more is not this upload.
    async with request.form(max_files=1, max_fields=10) as form:
        part = form.get(FILE_FIELD)
        if not isinstance(part, UploadFile):
            raise BadRequest(f"a multipart upload sends the file in a field named "
                             f"'{FILE_FIELD}' (with a filename)")
        chunks = []
        while chunk := await part.read(READ_CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)


UploadedFileDep = Annotated[bytes, Depends(uploaded_file)]
