"""The autograder on HW3: the solution scores 100, the blank student version 0, correct answers written another way
(BCE with logits, logsigmoid, NumPy/SciPy formulas, scipy.linalg.sqrtm, torch.cov, the usual WGAN-GP code with
grad_outputs) score 100, and for every answer cell each of three plausible mistakes loses the points of the question
it answers, and only those.

The shared tests and how mutants are packed into submissions: tests/graded_homework.py. The training results (q3b,
q4c, q4d: a trained generator beats an untrained one) depend on the answers of their part by design, so no mutant
spares them. ``test_no_answer_check_depends_on_chance`` and ``test_training_results_hold_with_a_margin`` say how
likely a correct homework is to lose points.
"""

import json
import statistics

from tests import hostile
from tests.benchmarks import bench_hw3_margins
from tests.graded_homework import Suite
from utils import authoring
from utils.config import REPO_ROOT

TRAINING_RESULTS = {"q3b", "q4c", "q4d"}

# answer cell -> three (what the mistake is, text in the solution, replacement). Each must cost its own question and
# no other (the training results excepted).
MUTANTS = {
    "q1a-code": [
        ("the fakes' term with the real label (softplus(-l) for fakes too)",
         "fake_term = F.softplus(fake_logits).mean()",
         "fake_term = F.softplus(-fake_logits).mean()"),
        ("one mean over real and fake logits together (unequal batches weighted by their sizes)",
         "return real_term + fake_term",
         "return torch.cat([F.softplus(-real_logits).flatten(), F.softplus(fake_logits).flatten()]).mean()"),
        ("log(1 - sigmoid(l)) formed from the probability (-inf for confident float32 logits)",
         "fake_term = F.softplus(fake_logits).mean()",
         "fake_term = -torch.log(1 - torch.sigmoid(fake_logits)).mean()"),
    ],
    "q1b-code": [
        ("minimax loss with the wrong sign (what D maximizes, not what G minimizes)",
         "return -F.softplus(fake_logits).mean()",
         "return F.softplus(fake_logits).mean()"),
        ("non-saturating loss as mean log D (G would push D(G(z)) down)",
         "return F.softplus(-fake_logits).mean()",
         "return -F.softplus(-fake_logits).mean()"),
        ("minimax loss through the probability: log(1 - sigmoid(l)) is -inf at large float32 logits",
         "return -F.softplus(fake_logits).mean()",
         "return torch.log(1 - torch.sigmoid(fake_logits)).mean()"),
    ],
    "q2a-code": [
        ("p(y) taken per image (every KL is 0)",
         "marginal = chunk.mean(0, keepdim=True)",
         "marginal = chunk"),
        ("p(y) of all the images instead of each split's own",
         "marginal = chunk.mean(0, keepdim=True)",
         "marginal = p.mean(0, keepdim=True)"),
        ("the mean of exp(KL) instead of exp of the mean KL",
         "scores.append(kl.mean().exp())",
         "scores.append(kl.exp().mean())"),
    ],
    "q2b-code": [
        ("the cross term without its factor 2",
         "- 2 * trace_cross",
         "- trace_cross"),
        ("eigenvalues of a semi-definite product not clipped at 0 (nan from round-off)",
         "torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0).sqrt().sum()",
         "torch.linalg.eigvalsh((inner + inner.T) / 2).sqrt().sum()"),
        ("the square root of the trace instead of the trace of the square root",
         "torch.linalg.eigvalsh((inner + inner.T) / 2).clamp(min=0).sqrt().sum()",
         "torch.trace(inner).clamp(min=0).sqrt()"),
    ],
    "q2c-code": [
        ("the biased covariance (divided by N)",
         "centered.T @ centered / (len(f) - 1)",
         "centered.T @ centered / len(f)"),
        ("computed in the input's dtype (float32 loses the covariance to cancellation)",
         "f = torch.as_tensor(features).to(torch.float64)",
         "f = torch.as_tensor(features)"),
        ("the second moment, not centered",
         "centered = f - mean",
         "centered = f"),
    ],
    "q3a-code": [
        ("the discriminator's step also steps G",
         "d_loss.backward()\n    d_optimizer.step()",
         "d_loss.backward()\n    d_optimizer.step()\n    g_optimizer.step()"),
        ("G's gradients not zeroed: G steps on a stale .grad plus its own",
         "    g_optimizer.zero_grad()\n",
         ""),
        ("the generator's step reuses the discriminator step's fakes G(z_d)",
         "generator_loss_nonsaturating(D(G(z_g)))",
         "generator_loss_nonsaturating(D(fake))"),
    ],
    "q4a-code": [
        ("the penalty at the real points instead of the interpolates",
         "x_hat = (weights * real + (1 - weights) * fake).detach().requires_grad_(True)",
         "x_hat = real.detach().requires_grad_(True)"),
        ("the norm squared: (||grad||^2 - 1)^2",
         "((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()",
         "((grad.flatten(1).pow(2).sum(1) - 1) ** 2).mean()"),
        ("the gradient of the mean score (each image's gradient divided by B)",
         "critic(x_hat).sum()",
         "critic(x_hat).mean()"),
    ],
    "q4b-code": [
        ("clipping the generator instead of the critic",
         "for weight in critic.parameters():",
         "for weight in G.parameters():"),
        ("the returned critic loss includes the penalty",
         "critic_losses.append(wasserstein_loss.item())",
         "critic_losses.append(loss.item())"),
        ("the critic's gradients not zeroed between its updates",
         "        critic_optimizer.zero_grad()\n",
         ""),
    ],
}  # fmt: skip

# Correct answers written another way: each must score 100. variant-k holds the k-th variant of every answer cell
# that has one.
VARIANTS = {
    "variant-a": {
        "q1a-code": hostile.code("""
            def discriminator_loss(real_logits, fake_logits):
                return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
                        + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        """),
        "q1b-code": hostile.code("""
            def generator_loss_minimax(fake_logits):
                return F.logsigmoid(-fake_logits).mean()


            def generator_loss_nonsaturating(fake_logits):
                return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        """),
        "q2a-code": hostile.code("""
            import scipy.special


            def inception_score(probs, num_splits=10):
                p = np.asarray(probs, dtype=np.float64)
                scores = []
                for part in np.array_split(p, num_splits):
                    p_y = part.mean(axis=0, keepdims=True)
                    scores.append(np.exp(scipy.special.rel_entr(part, p_y).sum(axis=1).mean()))
                return float(np.mean(scores)), float(np.std(scores))
        """),
        "q2b-code": hostile.code("""
            import scipy.linalg


            def frechet_distance(mu1, sigma1, mu2, sigma2):
                # the form of most FID code: tr((S1 S2)^(1/2)) by scipy.linalg.sqrtm, imaginary round-off dropped
                mu1, mu2 = np.atleast_1d(np.asarray(mu1, dtype=np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
                d = mu1.size
                s1 = np.asarray(sigma1, dtype=np.float64).reshape(d, d)
                s2 = np.asarray(sigma2, dtype=np.float64).reshape(d, d)
                covmean = scipy.linalg.sqrtm(s1 @ s2).real
                return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))
        """),
        "q2c-code": hostile.code("""
            def feature_statistics(features):
                f = torch.as_tensor(features, dtype=torch.float64)
                return f.mean(dim=0), torch.cov(f.T)
        """),
        "q3a-code": hostile.code("""
            def train_step(D, G, d_optimizer, g_optimizer, real, z_d, z_g):
                with torch.no_grad():
                    fake = G(z_d)
                D.zero_grad(set_to_none=True)
                d_loss = discriminator_loss(D(real), D(fake))
                d_loss.backward()
                d_optimizer.step()
                D.requires_grad_(False)  # D held fixed in G's step: no gradient is even computed for it
                G.zero_grad()
                g_loss = generator_loss_nonsaturating(D(G(z_g)))
                g_loss.backward()
                g_optimizer.step()
                D.requires_grad_(True)
                return float(d_loss), float(g_loss)
        """),
        "q4a-code": hostile.code("""
            def gradient_penalty(critic, real, fake, eps):
                alpha = eps.reshape(-1, 1, 1, 1) if real.dim() == 4 else eps.reshape(-1, *[1] * (real.dim() - 1))
                interpolates = torch.lerp(fake.detach(), real.detach(), alpha).requires_grad_(True)
                scores = critic(interpolates)
                gradients = torch.autograd.grad(outputs=scores, inputs=interpolates,
                                                grad_outputs=torch.ones_like(scores),
                                                create_graph=True, retain_graph=True)[0]
                gradients = gradients.reshape(gradients.size(0), -1)
                return ((gradients.norm(2, dim=1) - 1) ** 2).mean()
        """),
        "q4b-code": hostile.code("""
            def wgan_step(critic, G, critic_optimizer, g_optimizer, reals, z_critic, z_g, eps, clip_value,
                          penalty_weight):
                losses = []
                for k in range(len(reals)):
                    fake = G(z_critic[k]).detach()
                    critic_optimizer.zero_grad()
                    w_loss = -(critic(reals[k]).mean() - critic(fake).mean())
                    total = w_loss + (penalty_weight * gradient_penalty(critic, reals[k], fake, eps[k])
                                      if penalty_weight > 0 else 0)
                    total.backward()
                    critic_optimizer.step()
                    if clip_value is not None:
                        for p in critic.parameters():
                            p.data.clamp_(-clip_value, clip_value)
                    losses.append(w_loss.detach())
                g_optimizer.zero_grad()
                g_loss = -critic(G(z_g)).mean()
                g_loss.backward()
                g_optimizer.step()
                return torch.stack(losses).mean().item(), g_loss.item()
        """),
    },
    "variant-b": {
        "q1a-code": hostile.code("""
            def discriminator_loss(real_logits, fake_logits):
                return -F.logsigmoid(real_logits).mean() - F.logsigmoid(-fake_logits).mean()
        """),
        "q2a-code": hostile.code("""
            def inception_score(probs, num_splits=10):
                # IS = exp(H(y) - H(y|x)): the mutual information between image and label
                p = torch.as_tensor(probs).double()
                scores = []
                for chunk in torch.tensor_split(p, num_splits):
                    entropy_y = -torch.special.xlogy(chunk.mean(0), chunk.mean(0)).sum()
                    entropy_y_given_x = -torch.special.xlogy(chunk, chunk).sum(1).mean()
                    scores.append(math.exp(entropy_y - entropy_y_given_x))
                scores = np.array(scores)
                return scores.mean().item(), scores.std().item()
        """),
        "q2b-code": hostile.code("""
            def frechet_distance(mu1, sigma1, mu2, sigma2):
                # S1 S2 is similar to S1^(1/2) S2 S1^(1/2): the same (non-negative) eigenvalues
                mu1 = torch.as_tensor(np.asarray(mu1), dtype=torch.float64).flatten()
                mu2 = torch.as_tensor(np.asarray(mu2), dtype=torch.float64).flatten()
                d = len(mu1)
                s1 = torch.as_tensor(np.asarray(sigma1), dtype=torch.float64).reshape(d, d)
                s2 = torch.as_tensor(np.asarray(sigma2), dtype=torch.float64).reshape(d, d)
                eigenvalues = torch.linalg.eigvals(s1 @ s2).real.clamp(min=0)
                return float((mu1 - mu2).square().sum() + s1.trace() + s2.trace() - 2 * eigenvalues.sqrt().sum())
        """),
        "q2c-code": hostile.code("""
            def feature_statistics(features):
                f = np.asarray(features, dtype=np.float64)
                return torch.from_numpy(f.mean(0)), torch.from_numpy(np.atleast_2d(np.cov(f, rowvar=False)))
        """),
        "q3a-code": hostile.code("""
            def train_step(D, G, d_optimizer, g_optimizer, real, z_d, z_g):
                # the fakes keep their graph: the D loss's gradient reaches G's .grad, which G's step zeroes first
                d_optimizer.zero_grad()
                d_loss = discriminator_loss(D(real), D(G(z_d)))
                d_loss.backward()
                d_optimizer.step()
                g_optimizer.zero_grad()
                g_loss = generator_loss_nonsaturating(D(G(z_g)))
                g_loss.backward()
                g_optimizer.step()
                return d_loss.item(), g_loss.item()
        """),
        "q4b-code": hostile.code("""
            def wgan_step(critic, G, critic_optimizer, g_optimizer, reals, z_critic, z_g, eps, clip_value,
                          penalty_weight):
                total = 0.0
                for k, real in enumerate(reals):
                    fake = G(z_critic[k])  # with its graph: G's .grad gets filled, and zeroed before G's own step
                    critic_loss = critic(fake.detach()).mean() - critic(real).mean()
                    penalty = gradient_penalty(critic, real, fake.detach(), eps[k]) if penalty_weight != 0 else 0.0
                    critic.zero_grad()
                    (critic_loss + penalty_weight * penalty).backward()
                    critic_optimizer.step()
                    if clip_value is not None:
                        with torch.no_grad():
                            for p in critic.parameters():
                                p.copy_(p.clamp(-clip_value, clip_value))
                    total += critic_loss.item()
                G.zero_grad()
                g_loss = -critic(G(z_g)).mean()
                g_loss.backward()
                g_optimizer.step()
                return total / len(reals), g_loss.item()
        """),
    },
}

SUITE = Suite("hw3", MUTANTS, VARIANTS, TRAINING_RESULTS)
SOLUTION = SUITE.solution
globals().update(SUITE.tests())


# ------------------------------------------------------------------------ how often a correct homework loses points
def hidden_reports(cell_id: str) -> list[str]:
    """The keyword arguments of every report call in a graded cell's hidden tests, as source text."""
    cell = next(c for c in SOLUTION["cells"] if c["id"] == cell_id)
    hidden = authoring.source_text(cell).split(authoring.BEGIN_HIDDEN)[1]
    return [line for line in hidden.split("\n") if "report(" in line or "rtol=" in line or "compare=" in line]


def test_no_answer_check_depends_on_chance():
    """No HW3 answer draws random numbers (latents and interpolation weights are arguments), so every value an
    answer cell's hidden tests report is a deterministic function of the answer, compared with tolerances (1e-9 in
    float64, 1e-5 in float32, 1e-6 for rank-deficient Fréchet distances) far above the round-off between correct
    formulas (scipy.linalg.sqrtm's form and the eigenvalues of S1 S2 are within 3e-9 relative of the symmetric form
    on the hidden cases). The training results compare a trained generator with an untrained one; their seeds are
    fixed in the given code, so a correct homework's result differs from the reference only through round-off in
    the trajectory, and ``test_training_results_hold_with_a_margin`` measures how close they come to the threshold."""
    for cell in SOLUTION["cells"]:
        entry = cell["metadata"].get("grader", {})
        if entry.get("kind") != "answer" or cell["id"] == "reflection":
            continue
        source = hostile.solved(cell["id"], SOLUTION)
        assert "torch.rand" not in source and "np.random" not in source, f"{cell['id']} draws random numbers"
    for graded in ("q1a", "q1b", "q2a", "q2b", "q2c", "q3a", "q4a", "q4b"):
        assert not any("compare=" in line for line in hidden_reports(graded)), graded


def training_record(name: str) -> dict:
    record = json.loads((REPO_ROOT / "tests" / "benchmarks" / name).read_text())
    assert record["solution_digest"] == bench_hw3_margins.training_code_digest(), f"{name} is stale: rerun it"
    assert record["scale"] == "smoke" and set(record["ratios"]) == TRAINING_RESULTS and record["runs"] >= 16
    return record


def test_training_results_hold_with_a_margin():
    """The three training results, measured by tests/benchmarks/bench_hw3_margins.py over 16 runs of the solution's
    smoke code each way. With the reference's seeds and noise of 1e-7 times each gradient's root mean square added
    before every optimizer step (what a correct homework changes: round-off, which training amplifies; with two
    threads instead of one the reference's WGAN-clip ratio moves by a similar amount), each ratio is taken as normal
    with the measured mean and standard deviation, and the chance that a correct homework loses any of the three
    must be below 1e-6. With other seeds (every initialization and the data's order changed: a far larger change), no run
    may lose a point. Both files must be re-measured whenever the solution's code changes."""
    round_off = training_record("hw3_round_off.json")
    chance_of_a_loss = 0.0
    for cell, ratios in round_off["ratios"].items():
        mean, sd = statistics.mean(ratios), statistics.stdev(ratios)
        chance_of_a_loss += statistics.NormalDist().cdf((mean - 1) / sd)  # P(ratio > 1), from the lower tail
    assert chance_of_a_loss <= 1e-6, chance_of_a_loss
    for cell, ratios in training_record("hw3_margins.json")["ratios"].items():
        assert max(ratios) < 1, (cell, ratios)
