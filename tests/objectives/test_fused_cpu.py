"""The CPU fused objective: loss, metrics and gradients equal the full-logits computation (fp32, 1e-5)."""

import pytest
import torch

import sftlab.objectives.fused_cpu as fused_cpu
from sftlab.objectives import full_logits_reference
from sftlab.objectives.fused_cpu import fused_objective_loss


@pytest.mark.parametrize("objective", ["nll", "dft", "power", "asft"])
@pytest.mark.parametrize("with_bias", [False, True])
def test_matches_full_logits(objective, with_bias, monkeypatch):
    monkeypatch.setattr(fused_cpu, "TOKENS_PER_TILE", 7)  # several tiles, a ragged last one
    torch.manual_seed(0)
    n, h, v = 30, 16, 500
    hidden = torch.randn(n, h, requires_grad=True)
    weight = (0.5 * torch.randn(v, h)).requires_grad_()
    bias = (0.1 * torch.randn(v)).requires_grad_() if with_bias else None
    targets = torch.randint(0, v, (n,))
    ref_h, ref_w = torch.randn(n, h), 0.5 * torch.randn(v, h)

    loss, stats = fused_objective_loss(
        hidden,
        weight,
        targets,
        objective,
        bias=bias,
        alpha=0.5,
        kl_coef=0.3,
        ref_hidden=ref_h,
        ref_weight=ref_w,
        normalizer=40,
    )
    (2.0 * loss).backward()  # a non-unit upstream gradient
    grads = [t.grad.clone() for t in (hidden, weight, bias) if t is not None]
    for t in (hidden, weight, bias):
        if t is not None:
            t.grad = None

    logits = hidden @ weight.T + (bias if bias is not None else 0)  # (N, V)
    labels = torch.cat([torch.tensor([-100]), targets])[None]  # full_logits_reference shifts by one
    full_in = torch.cat([logits, torch.zeros(1, v)])[None]
    ref_logits = torch.cat([ref_h @ ref_w.T, torch.zeros(1, v)])[None]
    ref = full_logits_reference(
        full_in, labels, objective, alpha=0.5, ref_logits=ref_logits, kl_coef=0.3, num_items_in_batch=40
    )
    (2.0 * ref).backward()
    assert loss.item() == pytest.approx(ref.item(), abs=1e-5)
    for got, t in zip(grads, [t for t in (hidden, weight, bias) if t is not None]):
        assert torch.allclose(got, t.grad, atol=1e-5)
    logp = torch.log_softmax(logits.detach(), -1)
    assert stats[0].item() == pytest.approx(-logp.gather(1, targets[:, None]).sum().item(), rel=1e-5)
    assert stats[1].item() == (logp.argmax(-1) == targets).sum().item()
    assert stats[2].item() == pytest.approx(-(logp.exp() * logp).sum().item(), rel=1e-5)
