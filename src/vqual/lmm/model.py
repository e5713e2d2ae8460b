"""The language path: projected visual tokens spliced into a chat prompt (LLaVA style) for a frozen causal LM.

- `embed` turns a conversation into one embedding sequence: the decoder's chat template renders the text, each
  `IMAGE` placeholder becomes a key frame's spatial tokens and each `MOTION` placeholder a chunk's temporal token,
  in time order. A mismatch between placeholders and features raises `ValueError`.
- `level_probs` reads the score the Q-Align way: the probabilities of the five level words at the answer position
  (weights 5..1), from logits, deterministically. Generated digits are never parsed.
- `generate` answers greedily (explanations).
- `loss` is the instruction-tuning objective: soft cross-entropy on the level word (its expectation is the MOS),
  hard cross-entropy on explanation tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from vqual.lmm.decoder import Decoder
from vqual.lmm.projectors import Projectors
from vqual.lmm.prompts import (
    COARSE_WORDS,
    IMAGE,
    LEVEL_WORDS,
    MOTION,
    SYSTEM_PROMPT,
    Conversation,
    answer_prefix,
)

_MARK = "\u0001ANSWER{}\u0001"
_MARK_RE = re.compile("\u0001ANSWER(\\d+)\u0001")
_PIECE_RE = re.compile(f"({re.escape(IMAGE)}|{re.escape(MOTION)}|\u0001ANSWER\\d+\u0001)")


@dataclass
class Visual:
    """Encoder features of one item, in time order: key frames (global + grid, and the frame's measured attribute
    severities when the projectors have an attribute token) and, for videos, one temporal vector per key frame."""

    global_feats: np.ndarray  # (K, G)
    grid: np.ndarray  # (K, N, C)
    temporal: np.ndarray | None = None  # (K, F) for videos
    attributes: np.ndarray | None = None  # (K, A) severities in [0, 1], in the projector's attribute order


@dataclass
class Sequence:
    """One embedded conversation: input embeddings and what each supervised position should predict."""

    embeds: torch.Tensor  # (T, H)
    level_pos: list[tuple[int, torch.Tensor, str]]  # (position whose logits predict the word, target probs, task)
    token_pos: list[tuple[int, int]]  # (position, target token id) for explanation tokens


class LanguagePath:
    """Projectors + a frozen decoder."""

    def __init__(self, decoder: Decoder, projectors: Projectors):
        if projectors.dims["hidden"] != decoder.hidden_size:
            raise ValueError(f"projectors were built for hidden size {projectors.dims['hidden']}, the decoder "
                             f"{decoder.name} has {decoder.hidden_size}")
        self.decoder = decoder
        self.projectors = projectors
        tok = decoder.tokenizer
        self.level_ids = self._word_ids(LEVEL_WORDS)
        self.coarse_ids = self._word_ids(COARSE_WORDS)
        self._embed = decoder.model.get_input_embeddings()
        self._body = decoder.model.base_model
        self._head = decoder.model.get_output_embeddings()
        self._text_cache: dict[str, torch.Tensor] = {}
        self._tries: dict[tuple[str, ...], dict] = {}
        end = tok.convert_tokens_to_ids("<|im_end|>") if "<|im_end|>" in tok.get_vocab() else None
        self.stop_ids = {i for i in (end, tok.eos_token_id) if i is not None}
        self.end_id = end if end is not None else tok.eos_token_id  # the end of answer that training teaches

    # --- tokens ----------------------------------------------------------------------------------------------------
    def _word_ids(self, words) -> list[int]:
        ids = [self.decoder.tokenizer.encode(" " + w, add_special_tokens=False)[0] for w in words]
        if len(set(ids)) != len(ids):
            raise ValueError(f"the decoder's tokenizer does not tell the level words apart by their first token: "
                             f"{dict(zip(words, ids))}")
        return ids

    def _ids(self, text: str) -> torch.Tensor:
        if text not in self._text_cache:
            ids = self.decoder.tokenizer.encode(text, add_special_tokens=False) if text else []
            self._text_cache[text] = torch.tensor(ids, dtype=torch.long)
        return self._text_cache[text]

    def render(self, conv: Conversation, n_turns: int | None = None, generation: bool = False) -> str:
        """The conversation's text with the decoder's chat template; answers are markers (`_MARK`)."""
        turns = conv.turns if n_turns is None else conv.turns[:n_turns]
        messages = [{"role": "system", "content": SYSTEM_PROMPT}]
        for i, turn in enumerate(turns):
            user = turn.instruction if i else f"{conv.visual}\n{turn.instruction}"
            messages.append({"role": "user", "content": user})
            if not (generation and i == len(turns) - 1):
                messages.append({"role": "assistant", "content": _MARK.format(i)})
        tok = self.decoder.tokenizer
        if getattr(tok, "chat_template", None):
            return tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
        return text + ("Assistant:" if generation else "")

    # --- embedding -------------------------------------------------------------------------------------------------
    def visual_tokens(self, visual: Visual) -> list[torch.Tensor]:
        """Projected tokens per placeholder, in order: per key frame its spatial tokens, then (videos) its chunk's
        temporal token."""
        g = torch.as_tensor(visual.global_feats, dtype=torch.float32)
        c = torch.as_tensor(visual.grid, dtype=torch.float32)
        a = None if visual.attributes is None else torch.as_tensor(visual.attributes, dtype=torch.float32)
        spatial = self.projectors.spatial(g, c, a)  # (K, 1+N[+1], H)
        out = []
        if visual.temporal is None:
            return [spatial[k] for k in range(len(spatial))]
        t = self.projectors.temporal(torch.as_tensor(visual.temporal, dtype=torch.float32))  # (K, 1, H)
        for k in range(len(spatial)):
            out += [spatial[k], t[k]]
        return out

    def embed(self, conv: Conversation, visual: Visual, *, for_answer: int | None = None,
              generation: bool = False) -> Sequence:
        """Embed `conv`. With `for_answer=i` the sequence stops where answer i's level word is read (after the
        answer prefix); with `generation` it stops after the last turn's assistant header."""
        n_vis = visual.global_feats.shape[0]
        if conv.n_frames != n_vis or (conv.media == "video") != (visual.temporal is not None):
            raise ValueError(f"the prompt has {conv.n_frames} {conv.media} key frame placeholder(s) but "
                             f"{n_vis} frame feature(s){' with' if visual.temporal is not None else ' without'} "
                             "temporal features were given")
        n_turns = None if for_answer is None else for_answer + 1
        text = self.render(conv, n_turns=n_turns, generation=generation)
        vis = self.visual_tokens(visual)
        pieces = _PIECE_RE.split(text)
        n_placeholders = sum(1 for p in pieces if p in (IMAGE, MOTION))
        if n_placeholders != len(vis):
            raise ValueError(f"the rendered prompt has {n_placeholders} visual placeholders for {len(vis)} visual "
                             "inputs (a placeholder in the instruction text?)")
        embeds: list[torch.Tensor] = []
        level_pos: list[tuple[int, torch.Tensor, str]] = []
        token_pos: list[tuple[int, int]] = []
        length = 0
        vi = 0

        def add(e: torch.Tensor) -> None:
            nonlocal length
            if len(e):
                embeds.append(e)
                length += e.shape[0]

        for k, piece in enumerate(pieces):
            if piece in (IMAGE, MOTION):
                add(vis[vi])
                vi += 1
                continue
            m = _MARK_RE.fullmatch(piece)
            if m is None:
                add(self._embed(self._ids(piece)))
                continue
            i = int(m.group(1))
            turn = conv.turns[i]
            if turn.task == "explain":
                ids = self._ids(str(turn.target))
                token_pos += [(length - 1 + j, int(t)) for j, t in enumerate(ids)]
                add(self._embed(ids))
                following = self._ids(pieces[k + 1])[:1] if k + 1 < len(pieces) else []
                if len(following):  # learn to end the answer (the template's end-of-turn token)
                    token_pos.append((length - 1, int(following[0])))
                continue
            add(self._embed(self._ids(answer_prefix(conv.media))))
            target = torch.as_tensor(turn.target, dtype=torch.float32) if turn.target is not None else None
            if for_answer == i:
                return Sequence(torch.cat(embeds), [(length - 1, target, turn.task)], [])
            level_pos.append((length - 1, target, turn.task))
            ids = self.level_ids if turn.task == "score" else self.coarse_ids
            word = int(torch.argmax(target)) if target is not None else 0
            add(self._embed(torch.tensor([ids[word]])))
            add(self._embed(self._ids(".")))
        if for_answer is not None:
            raise ValueError(f"conversation has no answer {for_answer}")
        return Sequence(torch.cat(embeds), level_pos, token_pos)

    # --- forward ---------------------------------------------------------------------------------------------------
    def _hidden(self, embeds: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded batch through the decoder body: (B, T, H) hidden states and the lengths."""
        lengths = torch.tensor([e.shape[0] for e in embeds])
        T = int(lengths.max())
        H = embeds[0].shape[1]
        x = torch.zeros(len(embeds), T, H)
        mask = torch.zeros(len(embeds), T, dtype=torch.long)
        for b, e in enumerate(embeds):
            x[b, : e.shape[0]] = e
            mask[b, : e.shape[0]] = 1
        out = self._body(inputs_embeds=x, attention_mask=mask)
        return out.last_hidden_state, lengths

    def loss(self, seqs: list[Sequence], explain_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean soft cross-entropy of the level words plus `explain_weight` x mean cross-entropy of explanation
        tokens, over a batch of sequences."""
        hidden, _ = self._hidden([s.embeds for s in seqs])
        lev_h, lev_t, tok_h, tok_t = [], [], [], []
        for b, s in enumerate(seqs):
            for pos, target, task in s.level_pos:
                ids = self.level_ids if task == "score" else self.coarse_ids
                full = torch.zeros(self._head.weight.shape[0])
                full[ids] = target
                lev_h.append(hidden[b, pos])
                lev_t.append(full)
            for pos, tid in s.token_pos:
                tok_h.append(hidden[b, pos])
                tok_t.append(tid)
        total = hidden.new_zeros(())
        parts: dict[str, float] = {}
        if lev_h:
            logp = F.log_softmax(self._head(torch.stack(lev_h)), dim=-1)
            lev = -(torch.stack(lev_t) * logp).sum(-1).mean()
            total = total + lev
            parts["level"] = float(lev.detach())
        if tok_h:
            ce = F.cross_entropy(self._head(torch.stack(tok_h)), torch.tensor(tok_t))
            total = total + explain_weight * ce
            parts["explain"] = float(ce.detach())
        return total, parts

    @torch.inference_mode()
    def level_probs(self, conv: Conversation, visual: Visual, answer: int = 0) -> tuple[np.ndarray, float]:
        """P(level word) for answer `answer` (best first, renormalised over the level words) and the share of the
        decoder's whole next-token probability that the level words hold (how clearly it answers with one)."""
        seq = self.embed(conv, visual, for_answer=answer)
        hidden, _ = self._hidden([seq.embeds])
        logits = self._head(hidden[0, -1]).double()
        task = conv.turns[answer].task
        ids = self.level_ids if task == "score" else self.coarse_ids
        full = torch.softmax(logits, dim=-1)
        p = full[ids]
        return (p / p.sum()).numpy(), float(p.sum())

    #: Tries kept (the answer sets differ per input when grounded in its measurements; see `explain.grounded`).
    MAX_TRIES = 32

    def _trie(self, allowed: tuple[str, ...]) -> dict:
        """Token trie of the allowed answers; the key `None` marks where an answer may end."""
        if allowed not in self._tries:
            root: dict = {}
            for text in allowed:
                node = root
                for t in self._ids(text).tolist():
                    node = node.setdefault(t, {})
                node[None] = {}
            if len(self._tries) >= self.MAX_TRIES:
                self._tries.pop(next(iter(self._tries)))  # the oldest
            self._tries[allowed] = root
        return self._tries[allowed]

    @torch.inference_mode()
    def generate(self, conv: Conversation, visual: Visual, max_new_tokens: int = 40,
                 allowed: tuple[str, ...] | None = None) -> str:
        """Greedy answer to the conversation's last turn. With `allowed`, constrained greedy decoding: at each step
        the most probable token among those that continue one of the allowed answers (or end it), so the answer is
        always one of them (the decoder chooses which, token by token)."""
        seq = self.embed(conv, visual, generation=True)
        model = self.decoder.model
        node = self._trie(allowed) if allowed else None
        if node is not None and self.end_id is None:
            raise ValueError(f"decoder {self.decoder.name} has no end-of-answer token for constrained decoding")

        def pick(logits: torch.Tensor) -> int:
            if node is None:
                return int(torch.argmax(logits))
            options = [t if t is not None else self.end_id for t in node]
            return options[int(torch.argmax(logits[options]))]

        if node is not None:
            return self._generate_constrained(seq, node)
        out = model(inputs_embeds=seq.embeds[None], use_cache=True)
        past = out.past_key_values
        ids: list[int] = []
        nxt = pick(out.logits[0, -1])
        while nxt not in self.stop_ids and (node is not None or len(ids) < max_new_tokens):
            ids.append(nxt)
            if node is not None:
                node = node[nxt]  # the trie is finite and every path ends in an end mark
            out = model(input_ids=torch.tensor([[nxt]]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            nxt = pick(out.logits[0, -1])
        return self.decoder.tokenizer.decode(ids, skip_special_tokens=True).strip()

    def _generate_constrained(self, seq: Sequence, root: dict) -> str:
        """Constrained greedy decoding over the answer trie `root`. Where the trie leaves one continuation the token
        is forced (the greedy pick among one option), and a run of forced tokens goes through the decoder in one
        pass; the decoder's logits are computed only where it has a choice. The answer is the one token-by-token
        greedy decoding would give, in fewer decoder passes (none beyond the prompt when one answer is allowed)."""
        model = self.decoder.model
        node = root
        ids: list[int] = []
        pending: list[int] = []  # forced tokens not yet fed to the decoder
        past = None
        first = True
        while True:
            options = list(node)
            if len(options) == 1:  # forced: an end mark, or one next token
                if options[0] is None:
                    break
                pending.append(options[0])
                ids.append(options[0])
                node = node[options[0]]
                continue
            if first:
                embeds = seq.embeds
                if pending:
                    embeds = torch.cat([embeds, self._embed(torch.tensor(pending))])
                out = model(inputs_embeds=embeds[None], use_cache=True)
                first = False
            else:
                out = model(input_ids=torch.tensor([pending]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            pending = []
            logits = out.logits[0, -1]
            ends = [t if t is not None else self.end_id for t in options]
            choice = options[int(torch.argmax(logits[ends]))]
            if choice is None:
                break
            ids.append(choice)
            pending.append(choice)
            node = node[choice]
        return self.decoder.tokenizer.decode(ids, skip_special_tokens=True).strip()


def expected_score(probs: np.ndarray) -> tuple[float, float]:
    """Score (weights 5..1 over LEVEL_WORDS) and its spread (std of the level distribution)."""
    w = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    s = float(np.dot(probs, w))
    return s, float(np.sqrt(max(0.0, np.dot(probs, (w - s) ** 2))))
