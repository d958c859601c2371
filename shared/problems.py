"""RFC 9457 problem details: one error base class with a status, and its JSON shape."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"


class InvalidParam(BaseModel):
    """One invalid input field (NL API Design Rules `invalidParams`)."""

    name: str = Field(description="Where the field is: body.x.y, query.x, path.x, header.x")
    code: str = Field(description="Machine-readable reason, e.g. missing, extra_forbidden")
    reason: str = Field(description="Human-readable reason, in the answer's language")


class Problem(BaseModel):
    """An error (RFC 9457 problem details)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="A URI that identifies the problem type")
    title: str = Field(description="Short summary of the problem type, in the answer's "
                       "language (Content-Language: nl by default, en on request)")
    status: int = Field(description="The HTTP status code", ge=400, le=599)
    detail: str = Field(description="What went wrong in this occurrence, in the answer's "
                        "language")
    instance: str | None = Field(default=None, description="The request this problem is about")
    invalidParams: list[InvalidParam] | None = Field(  # noqa: N815 (JSON field name)
        default=None, description="Every invalid input field, for status 400"
    )


class ProblemError(Exception):
    """Raise anywhere below the router: the handler turns it into a problem response."""

    status: ClassVar[int] = 400
    title: ClassVar[str] = "Bad request"
    type: ClassVar[str] = "about:blank"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type, "title": self.title, "status": self.status, "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        body.update(self.extra)
        return body


class BadRequest(ProblemError):
    status = 400
    title = "Invalid input"

    def __init__(self, detail: str, invalid: list[InvalidParam] | None = None) -> None:
        super().__init__(detail)
        if invalid:
            self.extra["invalidParams"] = [p.model_dump() for p in invalid]


class NotFound(ProblemError):
    status = 404
    title = "Not found"


class Conflict(ProblemError):
    status = 409
    title = "Conflict"


class PreconditionFailed(ProblemError):
    status = 412
    title = "Precondition failed"


class PreconditionRequired(ProblemError):
    status = 428
    title = "Precondition required"


class Unprocessable(ProblemError):
    status = 422
    title = "Cannot be processed"


class PayloadTooLarge(ProblemError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(ProblemError):
    status = 415
    title = "Unsupported media type"


class ServiceUnavailable(ProblemError):
    status = 503
    title = "Service unavailable"
