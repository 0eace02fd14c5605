"""Objectives against hand-worked values and the unchunked computation."""

import math

import pytest
import torch

from sftlab.objectives import aggregate, chunked_kl, dft, full_logits_reference, nll, per_token_loss, power


def test_uniform_two_token_vocab_by_hand():
    """Uniform logits over a 2-token vocabulary: p = 1/2 for every target.

    nll   = -log(1/2)             = log 2       = 0.693147
    dft   = -(1/2) * log(1/2)     = log(2) / 2  = 0.346574
    power (alpha=2) = -(1/4) log(1/2) = log(2)/4 = 0.173287
    asft  with a reference equal to the policy: KL = 0, so asft = dft.
    """
    logits = torch.zeros(1, 3, 2)  # (B, T, V)
    labels = torch.tensor([[-100, 1, 0]])  # two scored targets after the shift
    assert full_logits_reference(logits, labels, "nll").item() == pytest.approx(math.log(2), abs=1e-6)
    assert full_logits_reference(logits, labels, "dft").item() == pytest.approx(math.log(2) / 2, abs=1e-6)
    assert full_logits_reference(logits, labels, "power", alpha=2.0).item() == pytest.approx(math.log(2) / 4, abs=1e-6)
    asft = full_logits_reference(logits, labels, "asft", ref_logits=logits.clone(), kl_coef=0.5)
    assert asft.item() == pytest.approx(math.log(2) / 2, abs=1e-6)


def test_asft_kl_by_hand():
    """Policy p = (1/2, 1/2); reference q = (e/(1+e), 1/(1+e)) = (0.731059, 0.268941).

    KL(q || p) = sum q log(q/p) = 0.731059*log(1.462117) + 0.268941*log(0.537883)
               = 0.731059*0.379885 - 0.268941*0.620115 = 0.277718 - 0.166774 = 0.110944
    asft = dft + 0.5 * KL = 0.346574 + 0.055472 = 0.402046 (one scored token, target 0).
    """
    logits = torch.zeros(1, 2, 2)
    ref = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    labels = torch.tensor([[-100, 0]])
    out = full_logits_reference(logits, labels, "asft", ref_logits=ref, kl_coef=0.5)
    assert out.item() == pytest.approx(0.346574 + 0.5 * 0.110944, abs=1e-5)


def test_dft_gradient_is_p_times_nll_gradient():
    """d dft/d logp = -p (stop-gradient weight): the gradient is the NLL gradient scaled by p."""
    logp = torch.log(torch.tensor([0.25, 0.5])).requires_grad_()
    dft(logp).sum().backward()
    assert torch.allclose(logp.grad, -torch.tensor([0.25, 0.5]))
    logp2 = logp.detach().clone().requires_grad_()
    power(logp2, 0.0).sum().backward()  # alpha 0 is NLL
    assert torch.allclose(logp2.grad, -torch.ones(2))
    assert torch.allclose(nll(logp.detach()), -logp.detach())


def test_aggregate_global_mean_and_empty_batch():
    per_token = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[1, 1, 0], [0, 1, 0]])
    assert aggregate(per_token, mask).item() == pytest.approx((1 + 2 + 5) / 3)
    assert aggregate(per_token, mask, num_items_in_batch=8).item() == pytest.approx(8 / 8)
    empty = aggregate(per_token.requires_grad_(), torch.zeros_like(mask))
    assert empty.item() == 0.0
    empty.backward()  # differentiable zero


def test_unknown_objective():
    with pytest.raises(ValueError, match="unknown objective"):
        per_token_loss("nope", torch.zeros(1))
    with pytest.raises(ValueError, match="needs the per-token KL"):
        per_token_loss("asft", torch.zeros(1))


@pytest.mark.parametrize("direction", ["forward", "reverse"])
def test_chunked_kl_matches_full_logits(direction):
    """Loss and gradients of the tiled KL equal the full-logits KL (fp32, 1e-5)."""
    torch.manual_seed(0)
    n, h, v = 37, 16, 1000
    hidden = torch.randn(n, h, requires_grad=True)
    weight = (0.3 * torch.randn(v, h)).requires_grad_()
    ref_hidden, ref_weight = torch.randn(n, h), 0.3 * torch.randn(v, h)

    kl = chunked_kl(hidden, weight, ref_hidden, ref_weight, direction=direction)
    kl.sum().backward()
    g_h, g_w = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None

    logp = torch.log_softmax(hidden @ weight.T, -1)
    ref_logp = torch.log_softmax(ref_hidden @ ref_weight.T, -1)
    if direction == "forward":
        full = (ref_logp.exp() * (ref_logp - logp)).sum(-1)
    else:
        full = (logp.exp() * (logp - ref_logp)).sum(-1)
    full.sum().backward()
    assert torch.allclose(kl, full, atol=1e-5)
    assert torch.allclose(g_h, hidden.grad, atol=1e-5)
    assert torch.allclose(g_w, weight.grad, atol=1e-5)
