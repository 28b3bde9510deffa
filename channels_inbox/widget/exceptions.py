"""Why the widget refuses something: a code the widget understands and a sentence for people."""

from __future__ import annotations


class WidgetError(Exception):
    """Answered as ``{"type": "error", "code": ..., "detail": ...}`` (HTTP: with ``status``)."""

    def __init__(
        self, code: str, detail: str, *, status: int = 400, client_id: str | None = None
    ) -> None:
        super().__init__(detail)
        self.code, self.detail, self.status, self.client_id = (
            code,
            detail,
            status,
            client_id,
        )

    def frame(self) -> dict:
        frame = {"type": "error", "code": self.code, "detail": self.detail}
        if self.client_id is not None:
            frame["client_id"] = self.client_id
        return frame
