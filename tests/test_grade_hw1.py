"""The autograder on HW1: the solution scores 100, the blank student version 0, correct answers written another way
(other draws, other valid methods) score 100, and for every answer cell each of three plausible mistakes loses the
points of the question it answers, and only those.

The shared tests and how mutants are packed into submissions (3 mutants per cell: 6 notebooks):
tests/graded_homework.py. ``false_fail_bounds`` adds up the probability that a correct homework loses a point.
"""

import math

import numpy as np
import pytest
from scipy import stats

from tests import hostile
from tests.false_fail import hoeffding_frequencies, hoeffding_rate, ks_two_sample_false_fail
from tests.graded_homework import Suite
from utils import authoring

TRAINING_RESULT = "q3f"  # the trained model's perplexity: it depends on 3b-3d by design, so no mutant spares it


# answer cell -> three (what the mistake is, text in the solution, replacement); the first of each is the original
# mutant of this test. Each must cost its own question and no other.
MUTANTS = {
    "q1a-code": [
        ("exponential scale times the rate", "-torch.log1p(-u) / rate", "-torch.log1p(-u) * rate"),
        ("cauchy loc and scale swapped", "loc + scale * torch.tan", "scale + loc * torch.tan"),
        ("exponential from the global RNG", "u = torch.rand(n, generator=generator, dtype=torch.float64)\n    return -",
         "u = torch.rand(n, dtype=torch.float64)\n    return -"),
    ],
    "q1b-code": [
        ("CDF shifted by one class", "torch.cumsum(probs, dim=0)", "torch.cumsum(probs, dim=0) - probs"),
        ("uniforms from the global RNG", "torch.rand(n, generator=generator, dtype=torch.float64)",
         "torch.rand(n, dtype=torch.float64)"),
        ("clamp off by one: the last class merged into the one before", "clamp(max=len(probs) - 1)",
         "clamp(max=len(probs) - 2)"),
    ],
    "q1c-code": [
        ("Cholesky factor not transposed", "mean + z @ L.T", "mean + z @ L"),
        ("cos for both halves (right marginal, dependent halves)", "radius * torch.sin(angle)",
         "radius * torch.cos(angle)"),
        ("n // 2 pairs: one draw short for an odd n", "pairs = (n + 1) // 2", "pairs = n // 2"),
    ],
    "q1d-code": [
        ("Jacobian term forgotten", "return log_p_x - log_y", "return log_p_x"),
        ("sigma not squared in the exponent", "((log_y - mu) / sigma) ** 2", "(log_y - mu) ** 2 / sigma"),
        ("Jacobian with the wrong sign", "return log_p_x - log_y", "return log_p_x + log_y"),
    ],
    "q1e-code": [
        ("accept with u <= f(x): right samples, wrong rate", "x[u <= f(x) / M]", "x[u <= f(x)]"),
        ("no loop: one batch of 2n proposals", "while kept < n:", "if kept < n:"),
        ("proposals miscounted (n per batch of 2n)", "proposed += 2 * n", "proposed += n"),
    ],
    "q2a-code": [
        ("log-determinant without the factor 2", "2 * torch.log(torch.diagonal", "torch.log(torch.diagonal"),
        ("normalizing constant without D", "D * math.log(2 * math.pi)", "math.log(2 * math.pi)"),
        ("log(sum(exp)) instead of logsumexp (underflows far away)",
         "torch.logsumexp(component_log_probs(X, weights, means, covs), dim=1)",
         "torch.log(torch.exp(component_log_probs(X, weights, means, covs)).sum(1))"),
    ],
    "q2b-code": [
        ("softmax over the wrong axis", "torch.exp(ell - log_px)", "torch.softmax(ell, dim=0)"),
        ("mean instead of total log-likelihood", "log_px.sum()", "log_px.mean()"),
        ("normalizing exp(ell) directly (0/0 far away)", "torch.exp(ell - log_px)",
         "torch.exp(ell) / torch.exp(ell).sum(1, keepdim=True)"),
    ],
    "q2c-code": [
        ("covariances divided by N", "/ Nk[:, None, None]", "/ N"),
        ("ridge forgotten", "covs + ridge * torch.eye(D, dtype=X.dtype)", "covs"),
        ("second moment not centered", "diff = X[:, None, :] - means[None]",
         "diff = X[:, None, :].expand(N, len(Nk), D)"),
    ],
    "q2d-code": [
        ("entropy forgotten", "(q * ell - entropy_terms).sum()", "(q * ell).sum()"),
        ("q log q without 0 log 0 = 0", "torch.special.xlogy(q, q)", "q * torch.log(q)"),
        ("entropy with the wrong sign", "(q * ell - entropy_terms).sum()", "(q * ell + entropy_terms).sum()"),
    ],
    "q2e-code": [
        ("one iteration short", "for _ in range(num_iters):", "for _ in range(num_iters - 1):"),
        ("history of average instead of total log-likelihoods", "history.append(log_likelihood.item())",
         "history.append(log_likelihood.item() / len(X))"),
        ("weights never updated", "weights, means, covs = m_step(X, resp, ridge)",
         "_, means, covs = m_step(X, resp, ridge)"),
    ],
    "q3a-code": [
        ("Dirichlet prior without the unigram (add-alpha numerator)", "pair_counts + alpha * unigram_probs",
         "pair_counts + alpha"),
        ("Witten-Bell weights swapped: N1+(v .) / (c(v) + N1+(v .)) on the bigram",
         "weight = context_counts / (context_counts + context_types)",
         "weight = context_types / (context_counts + context_types)"),
        ("Witten-Bell 0 / 0 where c(v) = 0",
         "weight = context_counts / (context_counts + context_types).clamp_min(1)  # lambda_v, 0 where c(v) = 0\n"
         "    bigram = pair_counts / context_counts.clamp_min(1)",
         "weight = context_counts / (context_counts + context_types)\n    bigram = pair_counts / context_counts"),
    ],
    "q3b-code": [
        ("scaled by sqrt(C) instead of sqrt(head size)", "/ math.sqrt(head_size)", "/ math.sqrt(C)"),
        ("causal mask off by one (sees the next token)", ".tril()", ".tril(1)"),
        ("softmax over the queries", ".softmax(dim=-1)", ".softmax(dim=-2)"),
    ],
    "q3c-code": [
        ("MLP after ln1", "self.mlp(self.ln2(x))", "self.mlp(self.ln1(x))"),
        ("no residual around the MLP", "return x + self.mlp(self.ln2(x))", "return self.mlp(self.ln2(x))"),
        ("post-LN instead of pre-LN", "x = x + self.resid_dropout(self.attn(self.ln1(x)))",
         "x = self.ln1(x + self.resid_dropout(self.attn(x)))"),
    ],
    "q3d-code": [
        ("later windows score their first stride targets, not their last", "(offsets >= context_len - stride)",
         "(offsets < stride)"),
        ("model.eval() forgotten", "    model.eval()\n", ""),
        ("the stream's last, shorter window dropped", "math.ceil((num_targets - context_len) / stride)",
         "(num_targets - context_len) // stride"),
    ],
    "q3e-code": [
        ("logits times the temperature", "logits / temperature", "logits * temperature"),
        ("window one token short", "ids[-model.max_len :]", "ids[-model.max_len + 1 :]"),
        ("greedy decoding instead of sampling", "torch.multinomial(probs, 1, generator=generator)",
         "probs.argmax().view(1)"),
    ],
}  # fmt: skip
# Correct answers written another way: other draws, other orders, other valid methods. Each must score 100.
VARIANTS = {
    "variant-a": {
        "q1a-code": hostile.code("""
            def sample_exponential(n, rate, generator):
                u = torch.rand(n, generator=generator, dtype=torch.float64)
                return -torch.log(u) / rate  # U and 1 - U have the same law


            def sample_cauchy(n, loc, scale, generator):
                u = torch.rand(n, generator=generator, dtype=torch.float64)
                return loc + scale * torch.tan(math.pi * u)  # tan of an angle uniform over a whole period
        """),
        "q1b-code": hostile.code("""
            def sample_categorical(n, probs, generator):
                return torch.multinomial(probs, n, replacement=True, generator=generator)
        """),
        "q1c-code": hostile.code("""
            def box_muller(n, generator):
                u = torch.rand((n + 1) // 2, 2, generator=generator, dtype=torch.float64)  # (u2, u1) side by side
                radius = torch.sqrt(-2 * torch.log(u[:, 1]))
                angle = 2 * math.pi * u[:, 0]
                return torch.stack([radius * torch.sin(angle), radius * torch.cos(angle)], 1).flatten()[:n]


            def sample_mvn(n, mean, cov, generator):
                eigenvalues, eigenvectors = torch.linalg.eigh(cov)
                root = eigenvectors * eigenvalues.sqrt()  # root @ root.T == cov
                return mean + box_muller(n * len(mean), generator).view(n, -1) @ root.T
        """),
        "q1e-code": hostile.code("""
            def rejection_sample(n, f, M, generator):
                accepted, proposed = [], 0
                while len(accepted) < n:  # one proposal at a time
                    x = torch.rand(1, generator=generator, dtype=torch.float64)
                    u = torch.rand(1, generator=generator, dtype=torch.float64)
                    proposed += 1
                    if u <= f(x) / M:
                        accepted.append(x)
                return torch.cat(accepted), len(accepted) / proposed
        """),
        "q3a-code": hostile.code("""
            def dirichlet_bigram_log_prob(pair_counts, context_counts, unigram_probs, alpha):
                return torch.log(pair_counts + alpha * unigram_probs) - torch.log(context_counts + alpha)


            def witten_bell_bigram_log_prob(pair_counts, context_counts, context_types, unigram_probs):
                seen = context_counts > 0
                safe = torch.where(seen, context_counts, torch.ones_like(context_counts))
                mixed = (pair_counts + context_types * unigram_probs) / (safe + context_types)  # the same mixture
                return torch.where(seen, mixed, unigram_probs).log()
        """),
        "q3d-code": hostile.code("""
            @torch.no_grad()
            def evaluate_nll(model, ids, context_len, stride):
                # Each target's window start from the formula, then windows of equal length scored together.
                was_training = model.training
                model.eval()
                where = next(model.parameters()).device
                t = torch.arange(1, len(ids))
                first = stride * torch.div(t - context_len + stride - 1, stride, rounding_mode="floor")
                start_of = torch.where(t <= context_len, torch.zeros_like(t), first)  # b(t) for t = 1..N-1
                starts = torch.unique(start_of)
                lengths = torch.clamp(starts + context_len, max=len(ids) - 1) - starts
                total_nll, num_tokens = 0.0, 0
                for length in torch.unique(lengths).tolist():
                    for chunk in starts[lengths == length].split(16):
                        x = torch.stack([ids[b : b + length] for b in chunk.tolist()]).to(where)
                        y = torch.stack([ids[b + 1 : b + 1 + length] for b in chunk.tolist()]).to(where)
                        log_probs = torch.log_softmax(model(x).double(), dim=-1)
                        picked = log_probs.gather(-1, y[..., None])[..., 0]  # (W, length)
                        mine = start_of[chunk[:, None] + torch.arange(length)] == chunk[:, None]
                        total_nll -= picked[mine.to(where)].sum().item()
                        num_tokens += int(mine.sum())
                model.train(was_training)  # put back the mode it had
                return total_nll, num_tokens
        """),
        "q3e-code": hostile.code("""
            def next_token_probs(logits, temperature):
                return torch.exp(torch.log_softmax(logits / temperature, dim=-1))


            @torch.no_grad()
            def generate(model, context, num_tokens, temperature, generator):
                model.eval()
                where = next(model.parameters()).device
                ids = context.clone()
                for _ in range(num_tokens):  # inverse CDF instead of torch.multinomial
                    logits = model(ids[-model.max_len :][None].to(where))[0, -1].double().cpu()
                    cdf = torch.cumsum(next_token_probs(logits, temperature), 0)
                    u = torch.rand(1, generator=generator, dtype=torch.float64) * cdf[-1]
                    ids = torch.cat([ids, torch.searchsorted(cdf, u, right=True).clamp(max=len(cdf) - 1)])
                return ids
        """),
    },
    "variant-b": {
        "q1a-code": hostile.code("""
            def sample_exponential(n, rate, generator):
                u = 1 - torch.rand(n, generator=generator, dtype=torch.float64)  # in (0, 1]
                return -torch.log(u) / rate


            def sample_cauchy(n, loc, scale, generator):
                u = 1 - torch.rand(n, generator=generator, dtype=torch.float64)
                return loc + scale / torch.tan(math.pi * u)  # cot(pi U) is standard Cauchy too
        """),
        "q1b-code": hostile.code("""
            def sample_categorical(n, probs, generator):
                u = torch.rand(n, generator=generator, dtype=torch.float64)
                cdf = torch.cumsum(probs, dim=0)
                k = torch.zeros(n, dtype=torch.int64)
                for F_k in cdf[:-1]:  # X = the number of F_k <= U (the last one taken as 1)
                    k += (u >= F_k).long()
                return k
        """),
        "q1c-code": hostile.code("""
            def box_muller(n, generator):
                # Marsaglia's polar method: two independent N(0, 1) from each accepted point of the unit disc.
                out, got = [], 0
                while got < n:
                    v = 2 * torch.rand(n, 2, generator=generator, dtype=torch.float64) - 1
                    s = (v**2).sum(1)
                    keep = (s > 0) & (s < 1)
                    v, s = v[keep], s[keep]
                    out.append((v * torch.sqrt(-2 * torch.log(s) / s)[:, None]).flatten())
                    got += out[-1].numel()
                return torch.cat(out)[:n]


            def sample_mvn(n, mean, cov, generator):
                L = torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).scale_tril
                return mean + box_muller(n * len(mean), generator).view(n, -1) @ L.T
        """),
        "q1e-code": hostile.code("""
            def rejection_sample(n, f, M, generator):
                samples, proposed, accepted = [], 0, 0
                while accepted < n:  # batches of 1000, uniforms drawn before the proposals
                    u = torch.rand(1000, generator=generator, dtype=torch.float64)
                    x = torch.rand(1000, generator=generator, dtype=torch.float64)
                    keep = x[u * M <= f(x)]
                    samples.append(keep)
                    proposed += 1000
                    accepted += keep.numel()
                return torch.cat(samples)[:n], accepted / proposed
        """),
        "q3e-code": hostile.code("""
            def next_token_probs(logits, temperature):
                return F.softmax(logits / temperature, -1)


            @torch.no_grad()
            def generate(model, context, num_tokens, temperature, generator):
                model.eval()
                where = next(model.parameters()).device
                ids = context.clone()
                for _ in range(num_tokens):
                    start = max(0, len(ids) - model.max_len)
                    logits = model(ids[start:].unsqueeze(0).to(where))[0, -1].cpu().double()
                    probs = next_token_probs(logits, temperature)
                    ids = torch.cat([ids, torch.multinomial(probs, 1, generator=generator)])
                return ids
        """),
    },
}

SUITE = Suite("hw1", MUTANTS, VARIANTS, {TRAINING_RESULT})
SOLUTION = SUITE.solution
globals().update(SUITE.tests())


# ------------------------------------------------------------------------ how often a correct homework loses points
RANDOMIZED = ["q1a", "q1b", "q1c", "q1e", "q3e"]  # graded cells whose values depend on how the answer draws
# Their close-compared values that a correct answer matches exactly (counts, same-seed differences, a sure
# sequence, probabilities computed by formula); every other one must be accounted for below.
EXACT_FOR_A_CORRECT_ANSWER = (
    "number of",
    "draws that differ",
    "tokens that differ",
    "generate: length",
    "mvn shape",
    "generate: tokens of a window model",
    "probabilities at temperature",
)


def reference_reports(n_samples: int, graded: list[str]) -> dict:
    """What the reference solution reports in these graded cells, name -> (value, report's keyword arguments):
    their code (visible and hidden) run here with N_SAMPLES = n_samples, as in the grader."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    reports = {}
    namespace = {"torch": torch, "math": math, "nn": nn, "F": F, "np": np, "stats": stats, "N_SAMPLES": n_samples,
                 "ks_pvalue": lambda samples, cdf: stats.kstest(np.asarray(samples), cdf).pvalue,
                 "report": lambda name, value, **kwargs: reports.__setitem__(name, (value, kwargs))}  # fmt: skip
    for cell in SOLUTION["cells"]:
        if cell["id"] in {f"{g}-code" for g in graded}:
            exec(hostile.solved(cell["id"], SOLUTION), namespace)
        elif cell["id"] in graded:
            exec(authoring.source_text(cell), namespace)
    return reports


def false_fail_bounds(n_samples: int) -> dict[str, float]:
    """Per check, an upper bound on the probability that a correct answer that draws its randomness differently
    fails it, read off the reports of the solution itself (sizes, levels, bands). The other graded cells (1d,
    2a-3d, the probabilities of 3e) are deterministic: a correct answer matches them to rounding."""
    reports = reference_reports(n_samples, RANDOMIZED)
    bounds = {}
    for cell in SOLUTION["cells"]:  # visible one-sample KS checks in graded cells: exact p-values (n = 5000)
        if cell["id"] in RANDOMIZED and "ks_pvalue(" in (
            visible := authoring.source_text(cell).split(authoring.BEGIN_HIDDEN)[0]
        ):
            assert visible.count("ks_pvalue(") == 1 and "> 1e-8" in visible and "5000" in visible, cell["id"]
            bounds[f"{cell['id']} visible: one-sample KS of 5000 draws"] = 1e-8
    grid = np.linspace(0, 1, 100_001)
    acceptance = math.exp(math.lgamma(3) + math.lgamma(2.5) - math.lgamma(5.5)) / (
        (grid**2 * (1 - grid) ** 1.5).max() * 1.05
    )
    token_logits = np.array([2.0, 0.0, -1.0, 1.0]) / 1.3  # the constant model of 3e, at temperature 1.3
    bands = {  # value -> (number of draws, probabilities or acceptance probability)
        "categorical frequencies": (n_samples, [0.03, 0.3, 0.17, 0.0, 0.25, 0.05, 0.2]),
        "acceptance rate": (n_samples, acceptance),  # Z / M = B(3, 2.5) / M
        "generate: frequencies": (6000, list(np.exp(token_logits) / np.exp(token_logits).sum())),
    }
    for name, (value, kwargs) in reports.items():
        value = np.asarray(value, dtype=np.float64)
        if kwargs.get("compare") == "distribution":
            bounds[f"{name}: two-sample KS, n = {value.size}"] = ks_two_sample_false_fail(value.size, kwargs["alpha"])
        elif name == "acceptance rate":
            bounds[name] = hoeffding_rate(bands[name][0], bands[name][1], value.item(), kwargs["atol"])
        elif name in bands:
            bounds[name] = hoeffding_frequencies(*bands[name], value.tolist(), kwargs["atol"])
        else:
            assert any(part in name for part in EXACT_FOR_A_CORRECT_ANSWER), f"{name}: no bound for this check"
    # The window model of 3e: a token other than the sure one (logit 60 at temperature 0.8) in 20 draws of 7.
    bounds["generate: tokens of a window model"] = 20 * 6 * math.exp(-60 / 0.8)
    return bounds


@pytest.mark.parametrize("n_samples", [20_000, 200_000], ids=["smoke", "full"])
def test_a_correct_homework_loses_points_with_probability_below_1e_6(n_samples):
    config = next(c for c in SOLUTION["cells"] if c["id"] == "config")
    assert "N_SAMPLES = pick(full=200_000, smoke=20_000)" in authoring.source_text(config)
    bounds = false_fail_bounds(n_samples)
    assert all(0 <= b < 1e-7 for b in bounds.values()), bounds
    assert sum(bounds.values()) <= 1e-6, bounds
