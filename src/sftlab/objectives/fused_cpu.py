"""A lean and fast LM head + objective for the CPU: gradients formed in the forward pass.

TRL's fused LM head (used everywhere else) keeps memory low by recomputing each
logits tile in the backward pass: four vocabulary-sized matmuls per step where
the plain computation needs three. Every sftlab objective has a closed-form
gradient with respect to the logits, so on a single CPU process the gradients
can be produced during the forward pass instead, tile by tile (the approach of
Liger-Kernel's fused linear cross-entropy):

    d loss / d z_t = (w_t / N) * (softmax(z_t) - onehot(y_t))       nll, dft, power
                   + (lambda / N) * (softmax(z_t) - softmax(z_ref_t))   asft, forward KL

with ``w_t`` the detached token weight (1, p_t, p_t^alpha). Each tile of
``TOKENS_PER_TILE`` tokens x the whole vocabulary is projected once; the
gradients for the hidden states and the head weight are accumulated from it and
the tile is dropped. The backward pass only scales them by the incoming scalar.
Memory: one tile plus one head-sized gradient buffer, never the full logits.
"""

from __future__ import annotations

import torch

# 256 tokens x 151,936 vocabulary x 4 bytes = 156 MB per tile.
TOKENS_PER_TILE = 256


class FusedObjectiveFunction(torch.autograd.Function):
    """Scalar loss ``sum_t loss_t / normalizer`` from hidden states, with gradients computed in forward.

    Inputs: ``hidden`` (N, H) at the scored positions, ``weight`` (V, H), ``bias`` (V,) or None,
    ``targets`` (N,), the objective's name and parameters, optional reference ``ref_hidden``
    (N, H_ref) / ``ref_weight`` (V, H_ref) / ``ref_bias`` for ASFT, and the normalizer.
    Returns the loss and a (4,) tensor of detached sums: nll, correct top-1, entropy, kl.
    """

    @staticmethod
    def forward(
        ctx, hidden, weight, bias, targets, objective, alpha, kl_coef, ref_hidden, ref_weight, ref_bias, normalizer
    ):
        n = hidden.shape[0]
        need_input_grad = ctx.needs_input_grad
        grad_hidden = torch.zeros_like(hidden) if need_input_grad[0] else None
        grad_weight = torch.zeros_like(weight, dtype=torch.float32) if need_input_grad[1] else None
        grad_bias = torch.zeros_like(bias, dtype=torch.float32) if bias is not None and need_input_grad[2] else None
        loss = hidden.new_zeros((), dtype=torch.float32)
        stats = torch.zeros(4, dtype=torch.float32)  # nll, correct, entropy, kl
        inv_n = 1.0 / float(normalizer)
        for start in range(0, n, TOKENS_PER_TILE):
            end = min(start + TOKENS_PER_TILE, n)
            h = hidden[start:end].float()  # (t, H)
            y = targets[start:end]
            z = torch.addmm(bias.float(), h, weight.float().T) if bias is not None else h @ weight.float().T  # (t, V)
            logp = torch.log_softmax(z, dim=-1)  # (t, V)
            del z
            logp_y = logp.gather(1, y[:, None]).squeeze(1)  # (t,)
            p = logp.exp()  # (t, V)
            stats[0] += -logp_y.sum()
            stats[1] += (logp.argmax(-1) == y).sum()
            stats[2] += -(p * logp).sum()
            if objective == "nll":
                w = torch.ones_like(logp_y)
            elif objective == "power":
                w = (alpha * logp_y).exp()
            else:  # dft, asft
                w = logp_y.exp()
            loss += -(w * logp_y).sum()
            # d/dz of -w * log p_y = w * (softmax - onehot): reuse p's storage for the gradient.
            g = p.mul_(w[:, None])  # (t, V)
            g.scatter_add_(1, y[:, None], -w[:, None])
            if objective == "asft":
                q_logits = ref_hidden[start:end].float() @ ref_weight.float().T  # (t, V)
                if ref_bias is not None:
                    q_logits += ref_bias.float()
                logq = torch.log_softmax(q_logits, dim=-1)
                del q_logits
                q = logq.exp()
                kl = (q * (logq - logp)).sum(-1)  # KL(q || p) per token
                stats[3] += kl.sum()
                loss += kl_coef * kl.sum()
                g.add_(torch.exp(logp) - q, alpha=kl_coef)  # d/dz of KL(q || softmax(z)) = p - q
                del logq, q
            del logp
            g.mul_(inv_n)
            if grad_hidden is not None:
                grad_hidden[start:end] = (g @ weight.float()).to(hidden.dtype)
            if grad_weight is not None:
                grad_weight.addmm_(g.T, h)
            if grad_bias is not None:
                grad_bias += g.sum(0)
            del g, p
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.mark_non_differentiable(stats)
        return loss * inv_n, stats

    @staticmethod
    def backward(ctx, grad_loss, _grad_stats):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        scale = grad_loss.to(torch.float32)
        gh = None if grad_hidden is None else grad_hidden * scale.to(grad_hidden.dtype)
        gw = None if grad_weight is None else grad_weight * scale
        gb = None if grad_bias is None else grad_bias * scale
        return gh, gw, gb, None, None, None, None, None, None, None, None


def fused_objective_loss(
    hidden,
    weight,
    targets,
    objective,
    *,
    bias=None,
    alpha=1.0,
    kl_coef=0.0,
    ref_hidden=None,
    ref_weight=None,
    ref_bias=None,
    normalizer=None,
):
    """Loss (scalar) and detached sums ``(nll, correct, entropy, kl)`` over the N scored tokens.

    ``normalizer`` defaults to N (the local mean); pass the global token count
    for gradient accumulation. ASFT uses the forward KL(pi_ref || pi_theta) only.
    """
    if objective == "asft" and ref_hidden is None:
        raise ValueError("objective 'asft' needs the reference model's hidden states")
    norm = hidden.shape[0] if normalizer is None else normalizer
    norm = max(float(norm.item() if torch.is_tensor(norm) else norm), 1.0)
    return FusedObjectiveFunction.apply(
        hidden,
        weight,
        bias,
        targets,
        objective,
        alpha,
        kl_coef,
        None if ref_hidden is None else ref_hidden.detach(),
        None if ref_weight is None else ref_weight.detach(),
        ref_bias,
        norm,
    )
