"""The FastAPI application of ``custseg serve``: ``POST /v1/score``, ``GET /v1/model``,
``GET /healthz`` and ``GET /openapi.json``.

The request models are built at start-up from the loaded model's input columns, so that
``/openapi.json`` documents the real fields. Validation errors are 422 answers that name the
row and the field; nothing answers with a traceback.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from custseg.errors import CustsegError
from custseg.serve.monitor import DriftMonitor
from custseg.serve.scoring import (
    NUMBER_ROLES,
    REQUIRED_ROLES,
    RowError,
    Scored,
    Scorer,
    require_fastapi,
)

API_KEY_HEADER = "X-API-Key"
#: Customer-table requests of at most this many rows are scored on the event loop (a few
#: milliseconds; a hop to a worker thread would cost about as much); larger ones, and invoice
#: lines (DuckDB), in a worker thread so that the server keeps answering meanwhile.
INLINE_ROWS = 100
#: Paths answered without the API key: a load balancer's health check carries no secret.
OPEN_PATHS = frozenset({"/healthz"})

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Number = Annotated[float | None, Field(allow_inf_nan=False)]
Text = Annotated[str | None, Field(max_length=10_000)]
Id = Annotated[str, Field(max_length=10_000)]


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class GuardMiddleware:
    """Checks the API key (when one is set) and caps the request body at ``max_body`` bytes
    (413), before any JSON is parsed. A body without ``Content-Length`` (chunked) is counted
    as it arrives."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, max_body: int) -> None:
        self.app = app
        self.api_key = api_key.encode() if api_key else None
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if self.api_key is not None and scope.get("path") not in OPEN_PATHS:
            given = headers.get(API_KEY_HEADER.lower().encode(), b"")
            if not hmac.compare_digest(given, self.api_key):
                await _send_json(
                    send,
                    401,
                    {
                        "detail": f"Missing or wrong API key: send it in the {API_KEY_HEADER} header."
                    },
                )
                return
        too_big = {
            "detail": f"The request body is over the limit of {self.max_body:,} bytes "
            "(custseg serve --max-body-mb); send fewer rows per request."
        }
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _send_json(send, 400, {"detail": "Content-Length is not a number."})
                return
            if declared > self.max_body:
                await _send_json(send, 413, too_big)
                return
        # Read the body up to the limit, then hand it on.
        chunks: list[bytes] = []
        size = 0
        more = scope.get("method") in ("POST", "PUT", "PATCH")
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _send_json(send, 413, too_big)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# ---------------------------------------------------------------- response models


class CustomerScore(BaseModel):
    """One customer's answer."""

    customer_id: str
    segment: int = Field(description="Segment number; -1: noise (DBSCAN/HDBSCAN).")
    segment_name: str
    action: str | None = Field(description="Recommended action of the segment (null for noise).")
    segment_probability: float | None = Field(
        None,
        description=(
            "Membership probability (Gaussian mixtures, and k-means segments whose "
            "boundaries were refined)."
        ),
    )
    expected_purchases: float | None = Field(
        None,
        description="Invoice lines: purchases expected in the 365 days after the analysis date.",
    )
    expected_revenue: float | None = Field(
        None, description="Invoice lines: revenue of those purchases."
    )
    first_purchase_segment: int | None = Field(
        None, description="One-purchase customers: the segment predicted from that purchase."
    )
    first_purchase_segment_name: str | None = None
    first_purchase_segment_probability: float | None = None
    features: dict[str, float | str | None] = Field(
        description="The customer's features in their original units."
    )


class ScoreResponse(BaseModel):
    """The answer to ``POST /v1/score``."""

    results: list[CustomerScore]
    warnings: list[str] = Field(
        description="What scoring reported: lines dropped by the cleaning rules, customers "
        "left without a row."
    )
    model_sha256: str


class Problem(BaseModel):
    """An error answer."""

    detail: Any


class SegmentInfo(BaseModel):
    segment: int
    name: str
    action: str | None


class FeatureInfo(BaseModel):
    name: str
    type: str = Field(description="numeric or categorical")


class ModelInfo(BaseModel):
    """The answer to ``GET /v1/model``."""

    kind: str = Field(description="customers or transactions")
    algorithm: str
    input_fields: list[str] = Field(description="The fields of one row of POST /v1/score.")
    features: list[FeatureInfo]
    segments: list[SegmentInfo]
    analysis_date: str | None = Field(
        description="Invoice lines: the day features are measured at (training)."
    )
    date_reference_days: dict[str, str] = Field(
        description="Customer tables: the day each date column is counted to (days, or a birth "
        "date's age in years)."
    )
    new_customers: bool = Field(
        description="Whether the first-purchase segment and next-year forecast are given."
    )
    max_batch: int
    model_sha256: str
    versions: dict[str, str] = Field(description="Versions this server runs with.")
    trained_with: dict[str, str] = Field(description="Versions the model was fitted with.")


# ---------------------------------------------------------------- request models


def _field_name(column: str, taken: set[str]) -> str:
    """A Python identifier for a column name (the column name stays the JSON alias)."""
    name = "".join(c if c.isalnum() else "_" for c in column).strip("_").lower() or "field"
    if name[0].isdigit() or name in taken or name.startswith("model_"):
        name = f"f_{name}"
    while name in taken:
        name += "_"
    taken.add(name)
    return name


def request_model(scorer: Scorer, max_batch: int) -> type[BaseModel]:
    """The body of ``POST /v1/score`` for this model: ``{"customers": [...]}`` with the
    customer table's columns, or ``{"lines": [...]}`` with the invoice lines' columns."""
    fields: dict[str, Any] = {}
    taken: set[str] = set()
    model = scorer.model
    if model.kind == "customers":
        fields[_field_name(scorer.id_col, taken)] = (
            Id,
            Field(alias=scorer.id_col, description="Customer id."),
        )
        for col in scorer.numeric_cols:
            fields[_field_name(col, taken)] = (
                Number,
                Field(alias=col, description="Number (null: the training median)."),
            )
        for col in scorer.categorical_cols:
            fields[_field_name(col, taken)] = (
                Text,
                Field(alias=col, description='Category (null: "missing").'),
            )
        for col, (fmt, ref) in scorer.date_cols.items():
            shown = f" or as {fmt}" if fmt else ""
            what = (
                f"Birth date (read as the age at {ref.isoformat()})"
                if col in scorer.age_cols
                else "Date"
            )
            fields[_field_name(col, taken)] = (
                Text,
                Field(
                    alias=col, description=f"{what}, ISO 8601 (2024-03-01){shown}; null allowed."
                ),
            )
        row_name, rows_key = "Customer", "customers"
    else:
        for role, col in scorer.roles.items():
            if role == "date":
                kind: Any = Annotated[str, Field(max_length=100)]
                text = "Date and time of the line, ISO 8601 (2024-03-01T14:30:00)."
            elif role in NUMBER_ROLES:
                kind, text = Annotated[float, Field(allow_inf_nan=False)], f"{role.title()}."
            elif role in ("customer_id", "invoice"):
                kind, text = Id, f"{'Customer id' if role == 'customer_id' else 'Invoice number'}."
            else:
                kind, text = Text, f"{role.replace('_', ' ').title()} (may be null)."
            default: Any = ... if role in REQUIRED_ROLES else None
            fields[_field_name(col, taken)] = (kind, Field(default, alias=col, description=text))
        row_name, rows_key = "InvoiceLine", "lines"
    row = create_model(
        row_name,
        __config__=ConfigDict(populate_by_name=False, extra="ignore", coerce_numbers_to_str=True),
        **fields,
    )
    what = "customers, one object each" if rows_key == "customers" else "invoice lines"
    return create_model(  # type: ignore[call-overload]
        "ScoreRequest",
        __config__=ConfigDict(extra="forbid"),
        **{
            rows_key: (
                list[row],  # type: ignore[valid-type]
                Field(
                    min_length=1,
                    max_length=max_batch,
                    description=f"The {what} to score, at most {max_batch:,} (--max-batch).",
                ),
            )
        },
    )


# ---------------------------------------------------------------- the application


def create_app(
    model_path: str | Path,
    *,
    api_key: str | None = None,
    max_batch: int = 10_000,
    max_body_mb: float = 20.0,
) -> Any:
    """The FastAPI application serving one model file.

    Parameters
    ----------
    model_path : str or Path
        A ``model.skops`` written by ``custseg segment``; loaded once, with the trusted
        loader (:func:`custseg.load_model`).
    api_key : str, optional
        When given, every request but ``GET /healthz`` must send it in the ``X-API-Key``
        header (compared in constant time).
    max_batch : int
        Most rows (customers or invoice lines) one request may hold.
    max_body_mb : float
        Largest request body, in megabytes (413 above it).

    Raises
    ------
    custseg.ModelFileError
        If the model file is missing, not a custseg model or not trusted.
    custseg.InputError
        If FastAPI is not installed.

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> client = TestClient(create_app("out/model.skops"))  # doctest: +SKIP
    >>> client.post("/v1/score", json={"customers": [{"CustomerID": "7", "Age": 31}]}).json()  # doctest: +SKIP
    """
    require_fastapi()
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    import custseg
    from custseg.io.readers import file_sha256
    from custseg.versions import library_versions

    path = Path(model_path)
    model = custseg.load_model(path)
    sha256 = file_sha256(path)
    scorer = Scorer(model)
    body_model = request_model(scorer, max_batch)
    rows_key = "customers" if model.kind == "customers" else "lines"
    info = _model_info(scorer, sha256, max_batch, library_versions())
    errors: dict[int | str, dict[str, Any]] = {
        413: {"model": Problem, "description": "Request body over --max-body-mb."},
        422: {"model": Problem, "description": "A field is missing or has a wrong value."},
    }
    if api_key:
        errors[401] = {"model": Problem, "description": "Missing or wrong X-API-Key."}

    app = FastAPI(
        title="custseg",
        version=info["versions"].get("custseg", "unknown"),
        description=f"Scores {model.kind} with the segments of model {sha256[:12]} "
        f"({len(model.segment_names)} segments).",
        # FastAPI's /docs and /redoc pages load their scripts from a CDN: left out, like
        # every other request to a third party. /openapi.json opens in any OpenAPI viewer.
        docs_url=None,
        redoc_url=None,
    )
    app.state.scorer = scorer
    monitor = DriftMonitor(model)
    app.state.drift = monitor

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {
                "loc": list(e.get("loc", ())),
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()[:20]
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # Never a traceback in an answer; the server log has the exception's type.
        return JSONResponse(
            {"detail": f"Internal error ({type(exc).__name__}); see the server log."},
            status_code=500,
        )

    @app.get("/healthz", summary="Liveness: the model is loaded.")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "model_sha256": sha256}

    @app.get(
        "/v1/model",
        summary="What the model is: kind, input fields, features, segments, versions.",
        response_model=ModelInfo,
        responses={k: v for k, v in errors.items() if k == 401},
    )
    def model_info() -> dict[str, Any]:
        return info

    @app.get(
        "/v1/drift",
        summary="Drift: the last customers scored against the training customers (PSI per "
        "feature, segment shares), checked every 1,000 customers.",
        responses={k: v for k, v in errors.items() if k == 401},
    )
    def drift() -> dict[str, Any]:
        return monitor.report()

    async def score(body: Any) -> Any:
        rows = [row.model_dump(by_alias=True) for row in getattr(body, rows_key)]
        try:
            if model.kind == "customers" and len(rows) <= INLINE_ROWS:
                scored = scorer.score(rows)
            else:
                scored = await run_in_threadpool(scorer.score, rows)
        except RowError as exc:
            return JSONResponse(
                {
                    "detail": [
                        {
                            "loc": ["body", rows_key, exc.row, exc.field],
                            "msg": exc.cli_message,
                            "type": "value_error",
                        }
                    ]
                },
                status_code=422,
            )
        except CustsegError as exc:
            return JSONResponse(
                {
                    "detail": [
                        {"loc": ["body", rows_key], "msg": exc.cli_message, "type": "value_error"}
                    ]
                },
                status_code=422,
            )
        monitor.add(scored.results)
        return _json_response(scored, sha256)

    # The body's model is built above, at run time: FastAPI reads it from the annotation.
    score.__annotations__["body"] = body_model
    app.post(
        "/v1/score",
        summary=f"Score {rows_key}: segment, name, action (and forecasts for invoice lines).",
        response_model=ScoreResponse,
        responses=errors,
    )(score)

    if api_key:
        _document_api_key(app)
    app.add_middleware(
        GuardMiddleware,
        api_key=api_key,
        max_body=int(max_body_mb * 1024 * 1024),
    )
    return app


def _document_api_key(app: Any) -> None:
    """Declare the X-API-Key header in /openapi.json, for every path but /healthz."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("components", {})["securitySchemes"] = {
                "APIKey": {"type": "apiKey", "in": "header", "name": API_KEY_HEADER}
            }
            schema["security"] = [{"APIKey": []}]
            for path in OPEN_PATHS:
                for operation in schema["paths"].get(path, {}).values():
                    operation["security"] = []
        return app.openapi_schema

    app.openapi = openapi


def _json_response(scored: Scored, sha256: str) -> Any:
    from fastapi.responses import Response

    body = {"results": scored.results, "warnings": scored.warnings, "model_sha256": sha256}
    # The records hold plain floats, ints, text and None (NaN was turned into null): JSON
    # is written directly, without a second validation pass over every customer.
    return Response(json.dumps(body, allow_nan=False), media_type="application/json")


def _model_info(
    scorer: Scorer, sha256: str, max_batch: int, versions: dict[str, str]
) -> dict[str, Any]:
    model = scorer.model
    names = list(model.segment_names)
    plan = model.settings.get("customer_columns") or {}
    text_columns = set(plan.get("categorical", []))
    segments = [
        {"segment": i, "name": name, "action": model.actions[i] if i < len(model.actions) else None}
        for i, name in enumerate(names)
    ]
    if model.algorithm in ("dbscan", "hdbscan"):
        segments.append({"segment": -1, "name": model.noise_name, "action": None})
    return {
        "kind": model.kind,
        "algorithm": model.algorithm,
        "input_fields": scorer.input_columns(),
        "features": [
            {
                "name": c,
                "type": "categorical" if c in model.categorical or c in text_columns else "numeric",
                # Columns the model left out are described in the answer, not segmented on.
                "used": c in model.numeric or c in model.categorical,
            }
            for c in model.feature_columns
        ],
        "segments": segments,
        "analysis_date": model.analysis_date,
        "date_reference_days": {
            c: ref.isoformat() for c, (_, ref) in getattr(scorer, "date_cols", {}).items()
        },
        "new_customers": model.new_customers is not None,
        "max_batch": max_batch,
        "model_sha256": sha256,
        "versions": {k: str(v) for k, v in versions.items()},
        "trained_with": {k: str(v) for k, v in model.settings.get("versions", {}).items()},
    }
