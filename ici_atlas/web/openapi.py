"""OpenAPI 3.1 description of the dashboard's JSON endpoints, built from :data:`ROUTES`
(so a page cannot exist without being described, and parameters are documented where
they are parsed)."""

from __future__ import annotations

from typing import Any

from .. import __version__
from .routes import ROUTES, Route

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message", "fix"],
            "properties": {
                "status": {"type": "integer", "description": "HTTP status code."},
                "code": {"type": "string", "description": "Machine-readable kind of error.",
                         "enum": ["invalid_parameter", "not_found", "method_not_allowed",
                                  "misdirected_request", "internal_error",
                                  "store_unavailable", "data_error"]},
                "message": {"type": "string", "description": "What was wrong, with the value."},
                "fix": {"type": "string", "description": "What to do about it."},
            },
        }
    },
}

_REPEATABLE = {"agent", "cancer", "partner", "country", "status", "sponsor", "phase"}
_INTEGER = {"since", "until", "page", "per_page"}


def _parameter(route: Route, name: str, description: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"} if name in _INTEGER and route.name in (
        "trials", "trials_csv") else {"type": "string"}
    param: dict[str, Any] = {"name": name, "in": "query", "required": False,
                             "description": description, "schema": schema}
    if name in _REPEATABLE and route.name in ("trials", "trials_csv"):
        param["schema"] = {"type": "array", "items": {"type": "string"}}
        param["style"], param["explode"] = "form", True
    return param


def _operation(route: Route) -> dict[str, Any]:
    params = [
        {"name": name, "in": "path", "required": True, "description": desc,
         "schema": {"type": "string", "pattern": f"^{regex}$"}, "example": example}
        for name, (regex, desc, example) in route.path_parameters.items()
    ]
    params += [_parameter(route, n, d) for n, d in route.parameters.items()]
    if route.content_type == "application/json":
        body_schema: dict[str, Any] = {"type": "object",
                                       "required": list(route.response_keys),
                                       "properties": {k: {} for k in route.response_keys}}
        content = {"application/json": {"schema": body_schema}}
    else:
        content = {route.content_type: {"schema": {"type": "string"}}}
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    responses = {"200": {"description": "OK", "content": content},
                 "400": {"description": "Invalid parameter", **error}}
    if route.path_parameters:
        responses["404"] = {"description": "Not found", **error}
    responses["503"] = {"description": "Store missing or not classified", **error}
    return {"operationId": route.name, "summary": route.summary, "parameters": params,
            "responses": responses}


def build_openapi() -> dict[str, Any]:
    """The OpenAPI document served at ``/openapi.json``."""
    paths = {}
    for route in ROUTES:
        op = _operation(route)
        if route.json_twin:
            op["description"] = (f"JSON twin of the HTML page {route.path}; the same URL "
                                 "without `.json` answers JSON too when the request's Accept "
                                 "header asks for application/json.")
        paths[route.json_path] = {"get": op}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ici-atlas dashboard",
            "version": __version__,
            "description": "Read-only JSON endpoints of `ici-atlas serve`. Every error has "
                           "the shape in components/schemas/Error. Research tool: nothing "
                           "here is clinical advice.",
        },
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }
