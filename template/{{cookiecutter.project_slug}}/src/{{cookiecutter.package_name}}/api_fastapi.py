"""HTTP API (FastAPI): GET /health, POST /predict validated by the schema-derived contract.

The champion model is loaded once at startup from ``$MODEL_DIR`` (default ``models``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request

from .contract import PredictionResponse, request_model
from .predict import predict_records
from .schema import load_schema
from .serving import load_for_serving

SCHEMA = load_schema()
PredictionRequest = request_model(SCHEMA)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    if getattr(app.state, "model", None) is None:
        app.state.model = load_for_serving(SCHEMA)
    yield
    app.state.model = None


app = FastAPI(title=__package__ or "model", lifespan=lifespan)


@app.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process is up and the model is loaded."""
    return {"status": "ok"}


@app.post("/predict", response_model=PredictionResponse, response_model_exclude_none=True)
def predict(payload: PredictionRequest, request: Request) -> PredictionResponse:  # type: ignore[valid-type]
    """Score one record."""
    record = payload.model_dump()  # type: ignore[attr-defined]
    return PredictionResponse(**predict_records(request.app.state.model, [record])[0])


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Load the champion (failing fast if there is none), then run uvicorn."""
    import uvicorn

    app.state.model = load_for_serving(SCHEMA)
    uvicorn.run(app, host=host, port=port)
