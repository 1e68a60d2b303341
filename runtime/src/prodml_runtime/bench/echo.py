"""The reference ``bench api`` measures ``/predict`` against: the least a route of the framework
can do with a JSON body (echo it), on the server ``serve`` runs (with its time limits), so the
two differ by the app alone.

(Annotations are evaluated here: FastAPI reads ``Request`` from them.)
"""

from typing import Any


def fastapi_app() -> Any:
    """A FastAPI app: ``GET /health``, and ``POST /predict`` answering the body it was sent."""
    from fastapi import FastAPI, Request, Response

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    async def echo(request: Request) -> Response:
        return Response(await request.body(), media_type="application/json")

    return app


def flask_app() -> Any:
    """A Flask app: ``GET /health``, and ``POST /predict`` answering the body it was sent."""
    from flask import Flask, Response, request

    app = Flask(__name__)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict")
    def echo() -> Response:
        return Response(request.get_data(), mimetype="application/json")

    return app


def serve_echo(framework: str, port: int) -> None:
    """Serve the echo app of ``framework`` on 127.0.0.1:``port`` until stopped."""
    if framework == "fastapi":
        from ..serving.server_fastapi import http_server as uvicorn_server

        uvicorn_server(fastapi_app(), "127.0.0.1", port).run()
    else:
        from ..serving.server_flask import http_server as gevent_server

        gevent_server(flask_app(), "127.0.0.1", port).serve_forever()
