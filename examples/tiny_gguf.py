"""A tiny random-weight llama GGUF, written at test time: nothing may come from a model hub.

llama architecture, 2 layers, 64 dims, F32, about 500 tokens of SPM vocabulary with byte
fallback (any UTF-8 prompt tokenizes), ~0.6 MB. The weights are random except for one
property the tests depend on: the model practically never samples end-of-stream (or a
control or raw-byte token), so every request generates exactly `max_tokens` readable tokens,
as `ignore_eos` would make a real model do. How: dimension 0 of the residual stream is pinned
to a large constant by the token embeddings and never written by attention or the FFN, and
the output projection reads that dimension as +2 for word tokens and -8 for the rest; after
the final RMS norm that is a gap of ~50 logits against random noise of ~2.5. (With -2, as in
the reference recipe, about 3% of 64-token requests sampled a raw byte, which llama.cpp
then merged with the next token into one frame.)

    python examples/tiny_gguf.py OUT.gguf   # to serve it by hand
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, TokenType

N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_FF = 128
N_CTX = 4096
PINNED = 8.0  # residual dimension 0, set by every token embedding
# Words get their own tokens so the output reads as text and a prompt is not all single characters.
WORDS = """\
the of and to in is was that for it with as his on be at by had are but from or have an they
which one you were all we her she there would their will when who him been has more if no out
do so can what up said about other into than its time only could new them man some these then
two first may any like now my such make over our even most me state after also made many did
must before back see through way where get much go well your know should down work year because
come people just say each those take day good how long very little own use three right think
tell again help show point here fast slow model token server load test stream request latency
queue batch cache prompt output input reply answer data value number word line text
"""
# The chat template llama.cpp renders for /v1/chat/completions (the GGUF has no other).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def vocabulary() -> tuple[list[str], list[float], list[int], int]:
    """SPM tokens, scores and types; and how many leading tokens must never be generated.

    The unsampleable ones come first (<unk>, <s>, </s>, the 256 byte-fallback tokens) so the
    output projection can push them all down with one slice.
    """
    tokens = ["<unk>", "<s>", "</s>", *(f"<0x{b:02X}>" for b in range(256))]
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL, *([TokenType.BYTE] * 256)]
    never = len(tokens)
    pieces = ["\u2581", *(chr(c) for c in range(33, 127)), *dict.fromkeys(f"\u2581{w}" for w in WORDS.split())]
    tokens += pieces
    types += [TokenType.NORMAL] * len(pieces)
    # SPM merges prefer higher scores: whole words over characters over the bare space.
    scores = [0.0] * never + [-1.0] + [-2.0] * 94 + [-3.0] * (len(pieces) - 95)
    return tokens, scores, [int(t) for t in types], never


def write_tiny_gguf(path: Path, seed: int = 0) -> Path:
    """Write the model to `path` (same seed, same bytes) and return the path."""
    rng = np.random.default_rng(seed)
    tokens, scores, types, never = vocabulary()

    def random(*shape: int, std: float) -> np.ndarray:
        # numpy shape is (out, in); gguf stores it reversed, as ggml expects.
        return (rng.standard_normal(shape) * std).astype(np.float32)

    writer = GGUFWriter(str(path), "llama")
    writer.add_name("isvcperf-tiny-random")
    writer.add_context_length(N_CTX)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(N_EMBD // N_HEAD)
    writer.add_rope_freq_base(10000.0)
    writer.add_vocab_size(len(tokens))
    writer.add_file_type(0)  # all F32
    writer.add_tokenizer_model("llama")  # SentencePiece, with byte fallback
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    embeddings = random(len(tokens), N_EMBD, std=1.0)
    embeddings[:, 0] = PINNED
    writer.add_tensor("token_embd.weight", embeddings)
    ones = np.ones(N_EMBD, np.float32)
    for layer in range(N_LAYER):
        prefix = f"blk.{layer}."
        attn_output = random(N_EMBD, N_EMBD, std=0.1)
        ffn_down = random(N_EMBD, N_FF, std=0.1)
        attn_output[0, :] = ffn_down[0, :] = 0.0  # nothing writes to the pinned dimension
        writer.add_tensor(prefix + "attn_norm.weight", ones)
        for name in ("attn_q", "attn_k", "attn_v"):
            writer.add_tensor(f"{prefix}{name}.weight", random(N_EMBD, N_EMBD, std=0.3))
        writer.add_tensor(prefix + "attn_output.weight", attn_output)
        writer.add_tensor(prefix + "ffn_norm.weight", ones)
        writer.add_tensor(prefix + "ffn_gate.weight", random(N_FF, N_EMBD, std=0.3))
        writer.add_tensor(prefix + "ffn_up.weight", random(N_FF, N_EMBD, std=0.3))
        writer.add_tensor(prefix + "ffn_down.weight", ffn_down)
    writer.add_tensor("output_norm.weight", ones)
    output = random(len(tokens), N_EMBD, std=0.3)
    output[:, 0] = 2.0
    output[:never, 0] = -8.0
    writer.add_tensor("output.weight", output)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


if __name__ == "__main__":
    print(write_tiny_gguf(Path(sys.argv[1])))
