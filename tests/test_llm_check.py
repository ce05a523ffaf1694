"""`python -m agent --check` (issue 28, item 4): a real request for every service it supports, so
an unreachable azure, ollama or litellm endpoint fails in one line; one line for an HTML page
where OpenAI's API should answer, for a base URL without `/v1`, and for an Azure deployment name
tiktoken does not know (Parlant PR #732), which AZURE_DEPLOYMENT_MODELS maps; an outbound proxy
and CA bundle in `.env` are accepted and used."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.test_llm_contract import check, one_line

if TYPE_CHECKING:
    from tests.fakes.fake_openai import FakeOpenAIThread

NOBODY = "http://127.0.0.1:9"  # the discard port: connection refused


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeOpenAIThread]:
    from tests.fakes.fake_openai import FakeOpenAI

    fake = FakeOpenAI().run_in_thread()
    yield fake
    fake.stop()


class _WebPage(BaseHTTPRequestHandler):
    """A web UI where the API should be: every GET answers a login page."""

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><body><form>Sign in</form></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_page() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WebPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_html_page_where_the_api_should_be_is_one_line(
    web_page: str, llm: FakeOpenAIThread, tmp_path: Path
) -> None:
    result = check({**llm.fake.env(), "OPENAI_BASE_URL": f"{web_page}/v1"}, tmp_path)
    assert result.returncode == 3
    line = one_line(result)
    assert "answered GET /models with an HTML page" in line and "OPENAI_BASE_URL" in line


def test_a_base_url_without_v1_is_named(llm: FakeOpenAIThread, tmp_path: Path) -> None:
    without = llm.fake.base_url.removesuffix("/v1")
    result = check({**llm.fake.env(), "OPENAI_BASE_URL": without}, tmp_path)
    assert result.returncode == 3
    assert one_line(result) == (
        f"agent: LLM check failed: OPENAI_BASE_URL={without} lacks /v1: the endpoint answers "
        f"OpenAI's API at {without}/v1; set OPENAI_BASE_URL={without}/v1"
    )


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        (
            {
                "PARLANT_NLP": "azure",
                "AZURE_ENDPOINT": NOBODY,
                "AZURE_API_KEY": "azure-key-for-tests",
                "AZURE_GENERATIVE_MODEL_NAME": "my-gpt4o",
                "AZURE_EMBEDDING_MODEL_NAME": "my-embedding-large",
                "AZURE_DEPLOYMENT_MODELS": "my-gpt4o=gpt-4o,my-embedding-large="
                "text-embedding-3-large",
            },
            "AZURE_ENDPOINT",
        ),
        ({"PARLANT_NLP": "ollama", "OLLAMA_BASE_URL": NOBODY}, "OLLAMA_BASE_URL"),
        (
            {
                "PARLANT_NLP": "litellm",
                "LITELLM_PROVIDER_MODEL_NAME": "openai/gpt-4o",
                "LITELLM_PROVIDER_BASE_URL": NOBODY,
            },
            "LITELLM_PROVIDER_BASE_URL",
        ),
    ],
)
def test_an_unreachable_endpoint_of_any_service_is_one_line(
    env: dict[str, str], setting: str, tmp_path: Path
) -> None:
    result = check(env, tmp_path)
    assert result.returncode == 3
    line = one_line(result)
    assert "is unreachable" in line and NOBODY in line and setting in line, line


def test_an_azure_deployment_name_needs_its_model(tmp_path: Path) -> None:
    env = {
        "PARLANT_NLP": "azure",
        "AZURE_ENDPOINT": NOBODY,
        "AZURE_API_KEY": "azure-key-for-tests",
        "AZURE_GENERATIVE_MODEL_NAME": "my-gpt4o",
    }
    result = check(env, tmp_path)
    assert result.returncode == 3
    line = one_line(result)
    assert "'my-gpt4o' is not a model name tiktoken knows" in line
    assert "AZURE_DEPLOYMENT_MODELS=my-gpt4o=" in line

    wrong = check({**env, "AZURE_DEPLOYMENT_MODELS": "my-gpt4o=gpt-9000"}, tmp_path)
    assert wrong.returncode == 2
    assert "AZURE_DEPLOYMENT_MODELS: 'gpt-9000' is not a model tiktoken knows" in one_line(wrong)


def test_an_outbound_proxy_in_dotenv_is_accepted_and_used(
    llm: FakeOpenAIThread, tmp_path: Path
) -> None:
    dotenv = tmp_path / "proxy.env"
    dotenv.write_text(
        f"HTTP_PROXY={NOBODY}\nHTTPS_PROXY={NOBODY}\n"
        "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\n"
        "REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt\n"
    )
    through_proxy = check({**llm.fake.env(), "DOTENV_PATH": str(dotenv)}, tmp_path)
    # The fake is up; only the (dead) proxy can make it unreachable.
    assert through_proxy.returncode == 3
    assert "unreachable" in one_line(through_proxy)

    dotenv.write_text(dotenv.read_text() + "NO_PROXY=127.0.0.1\n")
    direct = check({**llm.fake.env(), "DOTENV_PATH": str(dotenv)}, tmp_path)
    assert direct.returncode == 0, direct.stderr


def test_a_mapped_deployment_counts_tokens_like_its_model() -> None:
    """What Parlant's Azure adapter does with a deployment name at start, after the mapping."""
    import os

    import tiktoken

    from agent.nlp.service_checks import parse_deployment_models, register_azure_deployments
    from agent.nlp.tokenizer_files import default_cache_dir

    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(default_cache_dir()))
    env = {"AZURE_GENERATIVE_MODEL_NAME": "tests-gpt4o", "AZURE_EMBEDDING_MODEL_NAME": "tests-emb"}
    with pytest.raises(KeyError):
        tiktoken.encoding_for_model("tests-gpt4o")
    mapping = parse_deployment_models("tests-gpt4o=gpt-4o, tests-emb=text-embedding-3-large")

    assert register_azure_deployments(env, mapping) is None

    assert tiktoken.encoding_for_model("tests-gpt4o").name == "o200k_base"
    assert tiktoken.encoding_for_model("tests-emb").name == "cl100k_base"
