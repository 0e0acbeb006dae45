"""Tokenizers and the prompt / state-token / advantage layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rise_env.models.vla import (
    AdvantageVLA,
    ByteTokenizer,
    PromptBuilder,
    PromptConfig,
    advantage_to_bin,
    discretize_state,
    get_vla_config,
)
from rise_env.models.vla.pipeline import init_number_embeddings
from rise_env.models.vla.tokenizer import HFTokenizer, load_tokenizer


def test_byte_tokenizer_round_trip_and_number_tokens():
    tok = ByteTokenizer()
    text = "Task: put the cup_in box, State: 0 17 255 256 007;\nAction: é"
    ids = tok.encode(text, add_bos=True)
    assert ids[0] == tok.bos_id and tok.decode(ids) == text
    assert len(tok.encode(" 255")) == 1 and len(tok.encode("17")) == 1
    assert len(tok.encode(" 256")) == 4  # out of range: bytes
    assert max(ids) < tok.vocab_size <= 1024


def test_prompt_layout_with_state_and_advantage():
    builder = PromptBuilder(PromptConfig(), ByteTokenizer(), max_len=80)
    state = np.array([[-1.0, -0.999, 0.0, 0.5, 0.999, 1.0, 3.0, -7.0]])
    bins = discretize_state(state)
    expected_bins = np.digitize(np.clip(state, -1, 1), np.linspace(-1, 1, 257)[:-1]) - 1
    assert np.array_equal(bins, expected_bins) and bins.min() >= 0 and bins.max() <= 255
    assert bins[0, 0] == 0 and bins[0, 5] == 255 and bins[0, 6] == 255 and bins[0, 7] == 0
    text = builder.text("pick_up the brick\n", 7, bins[0])
    state_str = " ".join(str(b) for b in bins[0])
    assert text == f"Task: pick up the brick, State: {state_str}, Advantage: 7;\nAction: "
    assert builder.text("pick", 0, bins[0]) == f"Task: pick, State: {state_str};\nAction: "  # openpi's format

    tokens, mask = builder(["pick_up the brick\n"], torch.tensor([7]), torch.as_tensor(state))
    n = int(mask.sum())
    assert tokens.shape == (1, 80) and mask[0, :n].all() and not mask[0, n:].any()  # right padded
    assert tokens[0, 0] == ByteTokenizer.BOS and (tokens[0, n:] == ByteTokenizer.PAD).all()
    assert ByteTokenizer().decode(tokens[0, 1:n].tolist()) == text


def test_prompt_without_state_tokens_and_errors():
    builder = PromptBuilder(PromptConfig(), ByteTokenizer(), max_len=40, discrete_state=False)
    assert builder.text("box", 3) == "Task: box, Advantage: 3;\nAction: "
    assert builder.text("box", 0) == "Task: box;\nAction: "
    with pytest.raises(ValueError, match="advantage bin"):
        builder.text("box", 11)
    with pytest.warns(UserWarning, match="truncated"):
        tokens, mask = builder(["x" * 100], [1])
    assert mask.all()
    with pytest.raises(ValueError, match="normalised state"):
        PromptBuilder(PromptConfig(), ByteTokenizer(), 40)(["box"], [1])


def test_advantage_bins_1_to_10():
    adv = np.array([-1.0, -0.95, -0.8, 0.0, 0.79, 0.8, 1.0, 5.0])
    assert advantage_to_bin(adv).tolist() == [1, 1, 2, 6, 9, 10, 10, 10]


def test_hf_tokenizers_json_from_local_file(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    vocab = {"<pad>": 0, "<bos>": 1, "Task:": 2, "pick": 3, "[UNK]": 4}
    tk = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = tokenizers.pre_tokenizers.WhitespaceSplit()
    tk.save(str(tmp_path / "tokenizer.json"))
    tok = load_tokenizer(tmp_path)
    assert isinstance(tok, HFTokenizer) and tok.bos_id == 1 and tok.pad_id == 0
    assert tok.encode("Task: pick now", add_bos=True) == [1, 2, 3, 4]


def test_sentencepiece_is_lazy_and_paths_are_checked(tmp_path):
    with pytest.raises(FileNotFoundError, match="neither 'byte' nor an existing file"):
        load_tokenizer(tmp_path / "missing.model")
    with pytest.raises(FileNotFoundError, match="tokenizer.model"):
        load_tokenizer(tmp_path)


def test_sentencepiece_model_from_local_path(tmp_path):
    spm = pytest.importorskip("sentencepiece")
    import io

    text = ["Task: pick up the red brick, State: 1 2 3 4, Advantage: 10;", "Action: close the box"] * 20
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text), model_writer=buf, vocab_size=50, pad_id=0, eos_id=1, bos_id=2, unk_id=3,
        minloglevel=2, hard_vocab_limit=False,
    )  # fmt: skip
    (tmp_path / "tokenizer.model").write_bytes(buf.getvalue())
    tok = load_tokenizer(tmp_path)
    ids = tok.encode("Task: pick up the box", add_bos=True)
    assert ids[0] == tok.bos_id == 2 and tok.pad_id == 0
    assert tok.decode(ids[1:]) == "Task: pick up the box"
    tokens, mask = PromptBuilder(PromptConfig(), tok, max_len=64)(["pick"], [3], np.zeros((1, 4)))
    assert tokens[0, 0] == 2 and mask[0].sum() < 64


def test_number_embedding_init_codes_the_value_of_number_tokens():
    tok = ByteTokenizer()
    weight = torch.zeros(tok.vocab_size, 64)
    written = init_number_embeddings(weight, tok, values=256, channels=32, amplitude=0.1)
    assert written == 512  # "n" and " n" for n in 0..255
    rows = torch.stack([weight[tok.encode(f" {n}")[0], :32] for n in range(256)])
    torch.testing.assert_close(rows, torch.stack([weight[tok.encode(str(n))[0], :32] for n in range(256)]))
    assert not weight[:, 32:].any() and not weight[tok.encode("a")[0]].any()  # other rows/channels untouched
    sim = torch.nn.functional.cosine_similarity(rows[100:101], rows, dim=1)
    assert sim[99] > sim[90] > sim[50] and sim[101] > sim[110] > sim[150]  # nearer values, nearer rows
    # the value is linearly readable from the code: least squares recovers n to within a bin
    x = torch.cat([rows, torch.ones(256, 1)], dim=1).double()
    n = torch.arange(256, dtype=torch.float64)[:, None]
    fit = x @ torch.linalg.lstsq(x, n).solution
    assert (fit - n).abs().max() < 1.0


def test_number_embedding_init_is_off_by_default_and_reaches_fresh_models_only():
    plain = AdvantageVLA(get_vla_config("tiny"))
    on = get_vla_config("tiny").model_copy(update={"number_embedding_init": True})
    coded = AdvantageVLA(on)
    row = ByteTokenizer().encode(" 7")[0]
    emb = lambda vla: vla.model.paligemma_with_expert.language_model.embed_tokens.weight  # noqa: E731
    reference = torch.zeros_like(emb(coded))
    init_number_embeddings(reference, ByteTokenizer(), on.prompt.state_bins)
    torch.testing.assert_close(emb(coded)[row, :32], reference[row, :32], rtol=0, atol=0)
    assert (emb(plain)[row, :32] - reference[row, :32]).abs().max() > 0.01
    kept = AdvantageVLA(on, model=plain.model)  # a given (e.g. loaded) model is not re-initialised
    assert torch.equal(emb(kept), emb(plain))
