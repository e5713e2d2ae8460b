"""Tiny randomly initialised decoders (Llama and Qwen2) with a small byte-level BPE tokenizer, built on the fly, so
that the language path is tested offline in seconds and known to take other decoders than SmolLM2."""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def _corpus() -> list[str]:
    from vqual.lmm import prompts as P
    from vqual.lmm.explain import CLEAN_SENTENCE, PHRASES

    lines = [P.SYSTEM_PROMPT, P.SCORE_RESTRICTION, P.COARSE_RESTRICTION, P.EXPLAIN_RESTRICTION, CLEAN_SENTENCE]
    for media in ("image", "video"):
        lines += [t.format(media=media) for t in P.SCORE_INSTRUCTIONS + P.EXPLAIN_INSTRUCTIONS]
        lines += [f"{P.answer_prefix(media)} {w}." for w in P.LEVEL_WORDS]
    lines += [f"The main problem is strong {p}, along with severe {q}." for p, _ in PHRASES.values()
              for q in ("noise", "blur")]
    return lines * 20


def build_tokenizer(directory, chat_template: bool = True):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None)
    if chat_template:
        fast.chat_template = CHATML
    fast.save_pretrained(directory)
    return fast


def build_decoder(directory, arch: str = "llama", chat_template: bool = True):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    tok = build_tokenizer(directory, chat_template)
    torch.manual_seed(0)
    common = dict(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                  tie_word_embeddings=True, initializer_range=0.5,  # logits large enough to learn from
                  eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    model = LlamaForCausalLM(LlamaConfig(**common)) if arch == "llama" else Qwen2ForCausalLM(Qwen2Config(**common))
    model.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory):
    return build_decoder(tmp_path_factory.mktemp("tiny-llama"), "llama")


@pytest.fixture(scope="session")
def qwen2_dir(tmp_path_factory):
    return build_decoder(tmp_path_factory.mktemp("tiny-qwen2"), "qwen2", chat_template=False)
