"""The generative targets' fixtures (defined in llm_fixtures.py so other test directories can
import them too)."""

from llm_fixtures import llama_cpp_python_server, llama_server, sse_cadence, tiny_gguf

__all__ = ["llama_cpp_python_server", "llama_server", "sse_cadence", "tiny_gguf"]
