"""NFT's loss (arXiv 2505.18116) against hand-worked values, its gradients, and its edge cases."""

from __future__ import annotations

import math

import pytest
import torch

from sftlab.objectives.nft import clip_value_keep_grad, informative, nft_loss, nft_per_token_loss, prompt_weight

LOG2 = math.log(2.0)


def _hand_batch():
    """Four sequences of two tokens; the second token of each is padding (mask 0) holding garbage.

    Rows 0-2 share a group with r_q = 0.25 (w = 1 - r_q = 0.75), eps = 1:
      0: right, log R = log 2:  loss = 0.75 * -log 2                         = -0.519860
      1: wrong, log R = log 2:  (1 - 0.25*2) / 0.75 = 2/3 < eps, value 1:    loss = 0
      2: wrong, log R = log .5: (1 - 0.25*0.5) / 0.75 = 7/6:  0.75 * -log(7/6) = -0.115613
    Row 3 is from a group that got every answer right (r_q = 1): no signal, not counted.
    N = 3 kept tokens: loss = (-0.519860 + 0 - 0.115613) / 3 = -0.211824.
    """
    logps = torch.tensor([[LOG2, 9.0], [LOG2, -9.0], [-LOG2, 5.0], [3.0, 1.0]], dtype=torch.float64)
    old = torch.zeros_like(logps)
    mask = torch.tensor([[1, 0], [1, 0], [1, 0], [1, 1]])
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=torch.float64)
    rate = torch.tensor([0.25, 0.25, 0.25, 1.0], dtype=torch.float64)
    return logps.requires_grad_(), old, mask, rewards, rate


def test_loss_by_hand():
    logps, old, mask, rewards, rate = _hand_batch()
    loss, stats = nft_loss(logps, old, mask, rewards, rate)
    assert loss.item() == pytest.approx((-0.75 * LOG2 - 0.75 * math.log(7 / 6)) / 3, abs=1e-9)
    assert loss.item() == pytest.approx(-0.211824, abs=1e-6)
    assert stats["ratio"].item() == pytest.approx((2 + 2 + 0.5) / 3)  # mean R over kept tokens
    assert stats["negative_clipped"].item() == pytest.approx(0.5)  # row 1 clipped, row 2 not
    assert stats["kept"].item() == pytest.approx(0.75) and stats["positive"].item() == pytest.approx(1 / 3)


def test_gradients_by_hand():
    """d loss_t / d log pi_theta, divided by N = 3.

    0 (right):   -w                                         = -0.75     -> -0.25
    1 (clipped): w * (r_q R / (1 - r_q)) / eps = 0.75 * (0.5 / 0.75) = 0.5  -> 0.166667
    2:           w * (r_q R / (1 - r_q)) / (7/6) = 0.75 * (0.125/0.75) * 6/7 = 3/28 -> 1/28
    padding and the uninformative row: 0.
    """
    logps, old, mask, rewards, rate = _hand_batch()
    nft_loss(logps, old, mask, rewards, rate)[0].backward()
    expected = torch.tensor([[-0.25, 0.0], [0.5 / 3, 0.0], [1 / 28, 0.0], [0.0, 0.0]], dtype=torch.float64)
    assert torch.allclose(logps.grad, expected, atol=1e-12)


def test_gradient_matches_finite_differences_where_unclipped():
    torch.manual_seed(0)
    logps = (torch.randn(6, 5, dtype=torch.float64) * 0.3 - 1.0).requires_grad_()
    old = logps.detach() + torch.randn(6, 5, dtype=torch.float64) * 0.1
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 0.0], dtype=torch.float64)
    rate = torch.tensor([1 / 3] * 3 + [2 / 3] * 3, dtype=torch.float64)
    mask = torch.ones(6, 5)
    # eps small enough that no token is clipped: the loss is smooth and gradcheck applies
    assert torch.autograd.gradcheck(lambda x: nft_loss(x, old, mask, rewards, rate, epsilon=1e-3)[0], (logps,))


def test_on_policy_gradient_is_grpo_with_unnormalized_advantage():
    """R = 1: d loss / d log pi(a_t) = -(c - r_q) / N for every kept token (Proposition 4.2 of the paper)."""
    torch.manual_seed(1)
    logps = (torch.randn(8, 6, dtype=torch.float64) - 2.0).requires_grad_()
    rewards = torch.tensor([1, 0, 0, 0, 1, 1, 0, 1], dtype=torch.float64)  # two groups of 4: r_q 0.25 and 0.75
    rate = rewards.view(2, 4).mean(1).repeat_interleave(4)
    mask = (torch.rand(8, 6) > 0.3).long()
    loss, _ = nft_loss(logps, logps.detach(), mask, rewards, rate)
    assert loss.item() == pytest.approx(0.0, abs=1e-12)  # -log 1 everywhere
    loss.backward()
    expected = -(rewards - rate).unsqueeze(1) * mask / mask.sum()
    assert torch.allclose(logps.grad, expected, atol=1e-12)


def test_on_policy_gradient_with_sqrt_odds_is_grpo_std_normalized():
    """w = sqrt((1 - r_q) / r_q): d loss / d log pi(a_t) = -(c - r_q) / sqrt(r_q (1 - r_q)) / N, GRPO's advantage."""
    torch.manual_seed(2)
    logps = (torch.randn(8, 3, dtype=torch.float64) - 2.0).requires_grad_()
    rewards = torch.tensor([1, 0, 0, 0, 1, 1, 0, 1], dtype=torch.float64)
    rate = rewards.view(2, 4).mean(1).repeat_interleave(4)
    mask = torch.ones(8, 3)
    nft_loss(logps, logps.detach(), mask, rewards, rate, prompt_weighting="sqrt_odds")[0].backward()
    grpo_advantage = (rewards - rate) / (rate * (1 - rate)).sqrt()  # binary rewards: std = sqrt(r_q (1 - r_q))
    assert torch.allclose(logps.grad, -grpo_advantage.unsqueeze(1) * mask / mask.sum(), atol=1e-12)


def test_epsilon_clips_the_value_and_keeps_the_gradient():
    """Row 1 of the hand batch alone: negative likelihood ratio 2/3.

    eps = 0.5 (not clipped): 0.75 * -log(2/3) = 0.304099, gradient 0.75 * (0.5/0.75) / (2/3) = 0.75.
    eps = 0.8 (clipped):     0.75 * -log(0.8) = 0.167358, gradient 0.75 * (0.5/0.75) / 0.8   = 0.625.
    """
    for eps, value, grad in ((0.5, -0.75 * math.log(2 / 3), 0.75), (0.8, -0.75 * math.log(0.8), 0.625)):
        logps = torch.tensor([[LOG2]], dtype=torch.float64, requires_grad=True)
        loss, _ = nft_loss(logps, torch.zeros(1, 1), torch.ones(1, 1), torch.tensor([0.0]), torch.tensor([0.25]),
                           epsilon=eps)  # fmt: skip
        loss.backward()
        assert loss.item() == pytest.approx(value, abs=1e-9)
        assert logps.grad.item() == pytest.approx(grad, abs=1e-9)
    x = torch.tensor([0.1, 2.0], requires_grad=True)
    y = clip_value_keep_grad(x, 1.0)
    y.sum().backward()
    assert y.tolist() == [1.0, 2.0] and x.grad.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="epsilon"):
        nft_per_token_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1), torch.tensor([0.5]), epsilon=0.0)


def test_r_q_near_one_stays_finite():
    """r_q = 0.99 is clamped to 0.98; a wrong answer with R = 1.5 has (1 - 0.98*1.5)/0.02 = -23.5 < 0.

    The value is clipped at eps = 1 (loss 0) and the gradient is finite:
    w * (r_q R / (1 - r_q)) / eps = 0.02 * (1.47 / 0.02) = 1.47. Without the eps floor the log would be undefined.
    """
    logps = torch.tensor([[math.log(1.5)]], dtype=torch.float64, requires_grad=True)
    rate = torch.tensor([0.99], dtype=torch.float64)
    loss, stats = nft_loss(logps, torch.zeros(1, 1), torch.ones(1, 1), torch.tensor([0.0]), rate)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-12) and stats["negative_clipped"].item() == 1.0
    assert logps.grad.item() == pytest.approx(1.47, abs=1e-9)
    # without the clamp of r_q: w = 0.01 and r_q R / (1 - r_q) = 1.485 / 0.01, so the gradient is 1.485
    logps.grad = None
    nft_loss(logps, torch.zeros(1, 1), torch.ones(1, 1), torch.tensor([0.0]), rate, correct_rate_clip=0.0)[0].backward()
    assert logps.grad.item() == pytest.approx(0.01 * (0.99 * 1.5 / 0.01), abs=1e-9)


def test_log_ratio_is_clamped_at_max_log_ratio():
    """log R = 20 on a right answer is clamped to 10: loss w * -10, and no gradient beyond the clamp."""
    logps = torch.tensor([[20.0]], dtype=torch.float64, requires_grad=True)
    loss, _ = nft_loss(logps, torch.zeros(1, 1), torch.ones(1, 1), torch.tensor([1.0]), torch.tensor([0.5]))
    loss.backward()
    assert loss.item() == pytest.approx(-0.5 * 10.0) and logps.grad.item() == 0.0


def test_uninformative_groups_weigh_nothing_with_any_weighting():
    logps = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    rewards = torch.tensor([1.0, 1.0, 0.0, 0.0])
    rate = torch.tensor([1.0, 1.0, 0.0, 0.0])  # one group solved, one failed
    assert informative(rate).tolist() == [False] * 4
    for weighting in ("one_minus_r", "sqrt_odds", "none"):
        loss, stats = nft_loss(logps, torch.zeros(4, 3), torch.ones(4, 3), rewards, rate, prompt_weighting=weighting)
        loss.backward()
        assert loss.item() == 0.0 and stats["kept"].item() == 0.0
        assert torch.all(logps.grad == 0)


def test_negative_weight_and_prompt_weighting():
    logps, old, mask, rewards, rate = _hand_batch()
    rft, _ = nft_loss(logps, old, mask, rewards, rate, negative_weight=0.0)  # right answers only
    assert rft.item() == pytest.approx(-0.75 * LOG2 / 3, abs=1e-9)
    sqrt_odds, _ = nft_loss(logps, old, mask, rewards, rate, prompt_weighting="sqrt_odds")  # sqrt(0.75/0.25)
    assert sqrt_odds.item() == pytest.approx(math.sqrt(3) * (-LOG2 - math.log(7 / 6)) / 3, abs=1e-9)
    none, _ = nft_loss(logps, old, mask, rewards, rate, prompt_weighting="none")
    assert none.item() == pytest.approx((-LOG2 - math.log(7 / 6)) / 3, abs=1e-9)
    assert prompt_weight(torch.tensor([0.2]), "sqrt_odds").item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="weighting"):
        prompt_weight(torch.tensor([0.2]), "bogus")


def test_normalizer_and_micro_batches_add_up():
    """With the global token count, the micro-batch losses sum to the whole batch's; a constant divides the sum."""
    logps, old, mask, rewards, rate = _hand_batch()
    whole, _ = nft_loss(logps, old, mask, rewards, rate)
    parts = [nft_loss(logps[i : i + 2], old[i : i + 2], mask[i : i + 2], rewards[i : i + 2], rate[i : i + 2],
                      num_items_in_batch=3)[0] for i in (0, 2)]  # fmt: skip
    assert sum(p.item() for p in parts) == pytest.approx(whole.item(), abs=1e-12)
    constant, _ = nft_loss(logps, old, mask, rewards, rate, num_items_in_batch=1000)
    assert constant.item() == pytest.approx(whole.item() * 3 / 1000, abs=1e-12)


def test_bf16_log_probs_are_computed_in_fp32():
    logps = torch.full((2, 2), -1.0, dtype=torch.bfloat16, requires_grad=True)
    rewards, rate = torch.tensor([1.0, 0.0]), torch.tensor([0.5, 0.5])
    loss, _ = nft_loss(logps, logps.detach() - 0.5, torch.ones(2, 2), rewards, rate)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    loss.backward()
    assert logps.grad.dtype == torch.bfloat16
