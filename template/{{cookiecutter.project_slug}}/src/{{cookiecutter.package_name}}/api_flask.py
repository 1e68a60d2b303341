"""HTTP API (Flask): GET /health, POST /predict validated by the schema-derived contract.

``create_app()`` loads the champion once from ``$MODEL_DIR`` (default ``models``). Invalid
fields give 422 with the field errors; a body that is not a JSON object gives 400.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, request
from pydantic import ValidationError

from .contract import PredictionResponse, request_model
from .predict import predict_records
from .schema import load_schema
from .serving import load_for_serving


def _errors(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in error.errors(include_url=False, include_context=False, include_input=False)
    ]


def create_app() -> Flask:
    """The Flask application with the champion model loaded."""
    schema = load_schema()
    model = load_for_serving(schema)
    contract = request_model(schema)
    app = Flask(__name__)

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok")

    @app.post("/predict")
    def predict() -> Any:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return jsonify(detail="request body must be a JSON object"), 400
        try:
            record = contract.model_validate(body).model_dump()
        except ValidationError as error:
            return jsonify(detail=_errors(error)), 422
        response = PredictionResponse(**predict_records(model, [record])[0])
        return jsonify(response.model_dump(exclude_none=True))

    return app


def serve(host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the app with waitress (a production WSGI server)."""
    from waitress import serve as waitress_serve

    waitress_serve(create_app(), host=host, port=port)
