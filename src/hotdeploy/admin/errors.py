"""API errors as NGINX Plus answers them: a status, a text and a machine-readable code.

`{"error": {"status": 404, "text": "upstream not found", "code": "UpstreamNotFound"},
  "request_id": "...", "href": "https://nginx.org/en/docs/http/ngx_http_api_module.html"}`
"""

from __future__ import annotations

import secrets

API_DOCS_HREF = "https://nginx.org/en/docs/http/ngx_http_api_module.html"


class ApiError(Exception):
    def __init__(self, status: int, text: str, code: str) -> None:
        super().__init__(text)
        self.status = status
        self.text = text
        self.code = code

    def body(self) -> dict[str, object]:
        return {
            "error": {"status": self.status, "text": self.text, "code": self.code},
            "request_id": secrets.token_hex(16),
            "href": API_DOCS_HREF,
        }


def path_not_found() -> ApiError:
    return ApiError(404, "path not found", "PathNotFound")


def unknown_version() -> ApiError:
    return ApiError(404, "unknown version", "UnknownVersion")


def method_not_supported() -> ApiError:
    return ApiError(405, "method not supported", "MethodNotSupported")


def method_disabled() -> ApiError:
    # `api` without `write=on`: the API is read-only.
    return ApiError(405, "method disabled", "MethodDisabled")


def upstream_not_found() -> ApiError:
    return ApiError(404, "upstream not found", "UpstreamNotFound")


def server_not_found() -> ApiError:
    return ApiError(404, "server not found", "UpstreamServerNotFound")


def bad_server_id() -> ApiError:
    return ApiError(400, "invalid server id", "UpstreamBadServerId")


def json_error(detail: str) -> ApiError:
    return ApiError(415, f"json error: {detail}", "JsonError")


def format_error(text: str) -> ApiError:
    return ApiError(400, text, "UpstreamConfFormatError")
