"""IRFT/SPIN pairwise losses: hand-worked values per link, and SPIN == TRL's DPO sigmoid loss on the same inputs."""

from __future__ import annotations

import copy

import pytest
import torch
from datasets import Dataset

from sftlab.methods.irl.common import tokenize_pairs
from sftlab.objectives.irl import irl_pair_loss, link_loss, pair_metrics
from sftlab.trainers.irft import IRFTConfig, IRFTTrainer
from tiny import make_model, make_tokenizer

# (policy chosen, policy rejected, ref chosen, ref rejected, beta) -> z
#   A: ratios +1 and -1, beta 0.1  -> z = 0.1 * (1 - (-1)) = 0.2
#   B: ratios -2 and +3, beta 0.5  -> z = 0.5 * (-2 - 3) = -2.5
#   C: ratios  0 and -2, beta 1.0  -> z = 2
CASES = [(-10.0, -12.0, -11.0, -11.0, 0.1), (-20.0, -5.0, -18.0, -8.0, 0.5), (-1.0, -3.0, -1.0, -1.0, 1.0)]
# logistic: log(1 + e^-z): log(1.81873075) = 0.59813887, log(1 + e^2.5) = log(13.18249396) = 2.57888973,
#           log(1 + e^-2) = log(1.13533528) = 0.12692801
# hinge: max(0, 1 - z) = 0.8, 3.5, 0;   linear: -z = -0.2, 2.5, -2
EXPECTED = {
    "logistic": [0.5981388694, 2.5788897343, 0.1269280110],
    "hinge": [0.8, 3.5, 0.0],
    "linear": [-0.2, 2.5, -2.0],
}


def _tensors(cases):
    return [torch.tensor(col, dtype=torch.float64) for col in zip(*[c[:4] for c in cases])]


@pytest.mark.parametrize("link", list(EXPECTED))
def test_pair_loss_hand_worked(link):
    for case, expected in zip(CASES, EXPECTED[link]):
        pc, pr, rc, rr = _tensors([case])
        loss = irl_pair_loss(pc, pr, rc, rr, beta=case[4], link=link)
        assert loss.item() == pytest.approx(expected, abs=1e-9)


def test_gradients_per_link():
    """dl/d log pi(y|x) at case A (z = 0.2, beta = 0.1).

    logistic: -beta * sigmoid(-z) = -0.1 * 0.45016600 = -0.04501660; hinge (z < 1): -beta = -0.1;
    linear: -beta = -0.1 whatever z (the raw IRL gradient); the generation gets the opposite sign.
    """
    for link, expected in (("logistic", -0.0450166003), ("hinge", -0.1), ("linear", -0.1)):
        pc, pr, rc, rr = _tensors([CASES[0]])
        pc.requires_grad_(True)
        pr.requires_grad_(True)
        irl_pair_loss(pc, pr, rc, rr, beta=0.1, link=link).sum().backward()
        assert pc.grad.item() == pytest.approx(expected, abs=1e-9)
        assert pr.grad.item() == pytest.approx(-expected, abs=1e-9)


def test_hinge_is_flat_past_the_margin_and_unknown_link_fails():
    z = torch.tensor([0.5, 1.0, 3.0], requires_grad=True)
    link_loss(z, "hinge").sum().backward()
    assert z.grad.tolist() == [-1.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="link must be one of"):
        link_loss(z, "squared")


def test_pair_metrics_hand_worked():
    """Rewards beta * (pi - ref) with beta 0.1: chosen [0.1, -0.2, 0], rejected [-0.1, 0.3, 0].

    accuracy: only pair 1 has chosen > rejected (pair 3 ties) -> 1/3; margin: mean(0.2, -0.5, 0) = -0.1;
    logp_gap: mean(-10 - -12, -20 - -5, -1 - -1) = mean(2, -15, 0) = -13/3; ref gap: mean(0, -10, 0) = -10/3.
    """
    pc, pr = torch.tensor([-10.0, -20.0, -1.0]), torch.tensor([-12.0, -5.0, -1.0])
    rc, rr = torch.tensor([-11.0, -18.0, -1.0]), torch.tensor([-11.0, -8.0, -1.0])
    m = pair_metrics(pc, pr, rc, rr, beta=0.1)
    assert m["reward_accuracy"] == pytest.approx(1 / 3)
    assert m["reward_margin"] == pytest.approx(-0.1)
    assert m["logp_gap"] == pytest.approx(-13 / 3)
    assert m["ref_logp_gap"] == pytest.approx(-10 / 3)


# ------------------------------------------------------------------ against TRL's DPOTrainer


PAIRS = [
    {"prompt": "Question: Tom has 3 apples and buys 4 more. How many apples?\nSolution:",
     "chosen": " 3+4=7; #### 7", "rejected": " The answer is 42."},
    {"prompt": "Question: A box holds 12 pens; 5 are taken. How many remain?\nSolution:",
     "chosen": " 12-5=7; #### 7", "rejected": " She walks 6 km each day"},
    {"prompt": "Question: What is 2 plus 2?\nSolution:", "chosen": " 2+2=4; #### 4", "rejected": " 4"},
]  # fmt: skip


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A policy and its previous iterate (the policy before a perturbation), plus a collated batch of pairs."""
    tok = make_tokenizer()
    previous = make_model(len(tok), seed=0)
    policy = copy.deepcopy(previous)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(1)
        for p in policy.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    rows = tokenize_pairs(PAIRS, tok).to_list()
    return tok, policy, previous, rows, tmp_path_factory.mktemp("dpo")


def _logps(model, batch):
    """Summed completion log-probs from plain logits (no fused head): an independent computation."""
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    logp = torch.log_softmax(logits.double(), -1).gather(-1, batch["input_ids"][:, 1:, None])[..., 0]
    return (logp * batch["completion_mask"][:, 1:]).sum(1).chunk(2)


def _trainer(cls, args_cls, policy, previous, tok, out, **args):
    """``cls`` (DPOTrainer or IRFTTrainer) on copies of the models; bf16 off (TRL turns it on even on CPU)."""
    text = Dataset.from_list(PAIRS)
    config = args_cls(output_dir=str(out), beta=0.1, report_to="none", use_cpu=True, bf16=False,
                      per_device_train_batch_size=3, max_length=128, **args)  # fmt: skip
    return cls(model=copy.deepcopy(policy), ref_model=copy.deepcopy(previous), args=config, train_dataset=text,
               processing_class=tok)  # fmt: skip


@pytest.mark.parametrize("trl_loss, link", [("sigmoid", "logistic"), ("hinge", "hinge")])
def test_spin_loss_equals_trl_dpo_loss(setup, trl_loss, link):
    """rejected = generation, reference = previous iterate: TRL's DPO loss == sftlab's loss == IRFTTrainer's."""
    from trl import DPOConfig, DPOTrainer

    tok, policy, previous, rows, out = setup
    dpo = _trainer(DPOTrainer, DPOConfig, policy, previous, tok, out / trl_loss, loss_type=[trl_loss])
    batch = dpo.data_collator(rows)
    trl_value = dpo.compute_loss(dpo.model, batch).item()

    pc, pr = _logps(policy, batch)
    rc, rr = _logps(previous, batch)
    ours = irl_pair_loss(pc, pr, rc, rr, beta=0.1, link=link).mean().item()
    assert abs(ours - 0.6931) > 1e-3  # the perturbation moved the policy off its reference: a non-trivial value
    assert ours == pytest.approx(trl_value, abs=1e-5)

    irft = _trainer(IRFTTrainer, IRFTConfig, policy, previous, tok, out / f"irft-{link}", link=link,
                    precompute_ref_log_probs=False)  # fmt: skip
    assert irft.compute_loss(irft.model, irft.data_collator(rows)).item() == pytest.approx(trl_value, abs=1e-5)


def test_precomputed_reference_is_the_model_passed_in(setup):
    """With precompute (the loop's setting) and no ref_model, pi_t = the starting model: z = 0, loss = log 2."""
    tok, policy, _, rows, out = setup
    config = IRFTConfig(output_dir=str(out / "pre"), beta=0.1, report_to="none", use_cpu=True, bf16=False,
                        per_device_train_batch_size=3, max_length=128)  # fmt: skip
    trainer = IRFTTrainer(model=copy.deepcopy(policy), args=config, train_dataset=Dataset.from_list(rows),
                          processing_class=tok)  # fmt: skip
    scores = trainer.score_pairs()
    pc, pr = _logps(policy, trainer.data_collator(rows))
    assert torch.allclose(scores["ref_chosen"].double(), pc, atol=1e-4)
    assert torch.allclose(scores["ref_rejected"].double(), pr, atol=1e-4)
    batch = trainer._prepare_inputs(trainer.data_collator(trainer.train_dataset.to_list()))
    assert trainer.compute_loss(trainer.model, batch).item() == pytest.approx(0.693147, abs=1e-4)
