"""The test targets themselves: if these fail, every load test built on them is meaningless."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from iris_server import IrisServer

PAYLOAD_FILE = Path(__file__).resolve().parents[2] / "examples" / "payloads" / "sklearn-irisv2-input.json"


def _post_json(url: str, body: bytes) -> urllib.request.Request:
    return urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")


def test_iris_server_infers_the_example_payload(iris_server: IrisServer) -> None:
    with urllib.request.urlopen(_post_json(iris_server.infer_url, PAYLOAD_FILE.read_bytes()), timeout=10) as response:
        assert response.status == 200
        answer = json.loads(response.read())
    assert answer["model_name"] == "sklearn-irisv2"
    outputs = answer["outputs"]
    assert isinstance(outputs, list)
    assert outputs
    # One predicted class per input row of the [2, 4] payload.
    assert len(outputs[0]["data"]) == 2
    assert iris_server.base_url.startswith("http://127.0.0.1:")
    assert iris_server.grpc_port != iris_server.http_port


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_error_server_fails_every_request(error_server: str, method: str) -> None:
    body = b'{"inputs": []}' if method == "POST" else None
    request = urllib.request.Request(f"{error_server}/v2/models/any/infer", data=body, method=method)
    with pytest.raises(urllib.error.HTTPError) as failure:
        urllib.request.urlopen(request, timeout=10)
    with failure.value as response:
        assert response.code == 500
        assert json.loads(response.read()) == {"error": "model exploded"}


def test_error_server_keeps_the_connection_alive(error_server: str) -> None:
    # Load generators reuse connections; a server that closed them would measure connects.
    connection = http.client.HTTPConnection(urllib.parse.urlsplit(error_server).netloc, timeout=10)
    try:
        for _ in range(2):
            connection.request("POST", "/v2/models/any/infer", body=PAYLOAD_FILE.read_bytes())
            response = connection.getresponse()
            assert response.status == 500
            assert response.getheader("Connection") != "close"
            response.read()
    finally:
        connection.close()


def test_down_url_refuses_connections(down_url: str) -> None:
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(down_url, timeout=10)
