"""The autograder on HW2: the solution scores 100, the blank student version 0, correct answers written another way
(torch.distributions, loops, other formulas, other orders of random draws) score 100, and for every answer cell each
of three plausible mistakes loses the points of the question it answers, and only those.

The shared tests and how mutants are packed into submissions: tests/graded_homework.py. The training results (one
small graded cell per trained model) depend on the answers of their part by design, so no mutant spares them.
``false_fail_bounds`` adds up the probability that a correct homework loses a point.
"""

import math

from tests import hostile
from tests.false_fail import hoeffding_frequencies
from tests.graded_homework import Suite
from utils import authoring

# A trained model beats a baseline: every answer of its part counts.
TRAINING_RESULTS = {"q2d", "q3c", "q4e", "q6b", "q7c"}


# answer cell -> three (what the mistake is, text in the solution, replacement). Each must cost its own question and
# no other (the training results excepted).
MUTANTS = {
    'q1-code': [
        ('no skip connection',
         'return x + h',
         'return h'),
        ('ReLU in place on the input (the sum then adds ReLU(x))',
         'h = self.conv1(F.relu(x))',
         'h = self.conv1(F.relu(x, inplace=True))'),
        ('post-activation: ReLU after each convolution',
         'h = self.conv1(F.relu(x))\n        h = self.conv2(F.relu(h))',
         'h = F.relu(self.conv1(x))\n        h = F.relu(self.conv2(h))'),
    ],
    'q2a-code': [
        ('trace from the diagonal of L only (tr(L L^T) is the sum of all squares)',
         '(scale_tril**2).sum((-2, -1))',
         '(diagonal**2).sum(-1)'),
        ('log det(L L^T) without the factor 2',
         'log_det = 2 * torch.log(diagonal).sum(-1)',
         'log_det = torch.log(diagonal).sum(-1)'),
        ('the -d forgotten',
         ' - mu.shape[-1] - log_det)',
         ' - log_det)'),
    ],
    'q2b-code': [
        ('z drawn with L^T instead of L',
         'z = mu + (scale_tril @ eps.unsqueeze(-1))',
         'z = mu + (scale_tril.mT @ eps.unsqueeze(-1))'),
        ('the Jacobian of eps -> z forgotten in log q',
         ' - torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)',
         ''),
        ('log q as if the covariance were I',
         'log_q = -0.5 * (eps**2).sum(-1)',
         'log_q = -0.5 * ((z - mu) ** 2).sum(-1)'),
    ],
    'q2c-code': [
        ('log-scale used as a log-variance',
         '(x - mean) * torch.exp(-log_scale)',
         '(x - mean) * torch.exp(-0.5 * log_scale)'),
        ('the log-scale term forgotten',
         ' - log_scale - 0.5',
         ' - 0.5'),
        ('mean over dimensions instead of the sum',
         'log_density.flatten(1).sum(1)',
         'log_density.flatten(1).mean(1)'),
    ],
    'q3a-code': [
        ('log p(x | z) as a mean over pixels',
         'log_px_z = -bce.flatten(2).sum(-1)',
         'log_px_z = -bce.flatten(2).mean(-1)'),
        ('the log-determinant of L forgotten in log q',
         ' - torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)',
         ''),
        ('log(sigmoid) formed explicitly (log 0 for confident float32 logits)',
         'bce = F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")',
         'bce = -(x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logit'
         's)))'),
    ],
    'q3b-code': [
        ("an average of the chunks' log-mean-exps (a looser bound)",
         'torch.logsumexp(torch.stack(chunk_logsumexps), dim=0) - math.log(k)',
         '(torch.stack(chunk_logsumexps) - math.log(chunk_size)).mean(0)'),
        ('exp before the sum (underflows in float32)',
         'torch.logsumexp(sample_log_weights(n), dim=0)',
         'torch.log(torch.exp(sample_log_weights(n)).sum(0))'),
        ('always a full chunk: more than k draws',
         'n = min(chunk_size, k - drawn)',
         'n = chunk_size'),
    ],
    'q4a-code': [
        ('mask A keeps the centre',
         'if mask_type == "B":',
         'if mask_type in "AB":'),
        ('column-major order: the mask transposed',
         '    return mask\n',
         '    return mask.T\n'),
        ('forward ignores the mask',
         'self.weight * self.mask',
         'self.weight'),
    ],
    'q4b-code': [
        ('no skip connection',
         'return x + h',
         'return h'),
        ('ReLU in place on the input (the sum then adds ReLU(x))',
         'h = self.reduce(F.relu(x))',
         'h = self.reduce(F.relu(x, inplace=True))'),
        ('post-activation: ReLU after each convolution',
         'h = self.reduce(F.relu(x))  # (B, h, H, W)\n        h = self.masked(F.relu(h))',
         'h = F.relu(self.reduce(x))  # (B, h, H, W)\n        h = F.relu(self.masked(h))'),
    ],
    'q4c-code': [
        ('no absolute value',
         'return torch.stack(rows).abs()',
         'return torch.stack(rows)'),
        ('transposed: row j = input pixel',
         'return torch.stack(rows).abs()',
         'return torch.stack(rows).abs().T'),
        ('one backward pass of the sum of all logits',
         'torch.autograd.grad(logits[i], x, retain_graph=True)',
         'torch.autograd.grad(logits.sum(), x, retain_graph=True)'),
    ],
    'q4d-code': [
        ('column-major order',
         'for row in range(height):\n        for col in range(width):',
         'for col in range(width):\n        for row in range(height):'),
        ('one pass for all pixels (the logits of the empty image)',
         'probs = torch.sigmoid(model(x)[:, 0, row, col])',
         'probs = torch.sigmoid(model(torch.zeros_like(x))[:, 0, row, col])'),
        ('sign: 1 with probability sigma(-logit)',
         'x[:, 0, row, col] = (u < probs).to(x.dtype)',
         'x[:, 0, row, col] = (u > probs).to(x.dtype)'),
    ],
    'q5a-code': [
        ('the log-determinant added instead of subtracted',
         'log_q = log_q - F.logsigmoid(s).sum(-1)',
         'log_q = log_q + F.logsigmoid(s).sum(-1)'),
        ('no reversal between steps',
         '        if t > 0:\n            z = z.flip(-1)',
         '        pass'),
        ('z and m swapped in the update',
         'z = gate * z + (1 - gate) * m',
         'z = gate * m + (1 - gate) * z'),
    ],
    'q5b-code': [
        ('log |det J| added instead of subtracted',
         'return log_q0 - torch.linalg.slogdet',
         'return log_q0 + torch.linalg.slogdet'),
        ('log det without the absolute value (NaN where det < 0)',
         'torch.linalg.slogdet(jacobians).logabsdet',
         'torch.logdet(jacobians)'),
        ('the gradient of the sum of all outputs for every row',
         'out[:, i].sum()',
         'out.sum()'),
    ],
    'q6a-code': [
        ('divisor N: the biased variance',
         '/ (len(posterior_means) - 1)',
         '/ len(posterior_means)'),
        ('not centred: the mean square, not the variance',
         'centred = posterior_means - posterior_means.mean(0)',
         'centred = posterior_means'),
        ('standard deviation instead of variance',
         'activity = (centred**2).sum(0) / (len(posterior_means) - 1)',
         'activity = ((centred**2).sum(0) / (len(posterior_means) - 1)).sqrt()'),
    ],
    'q7a-code': [
        ('conditioner fed the unmasked input (not invertible)',
         'self.net(x * self.mask)',
         'self.net(x)'),
        ('inverse with exp(+s)',
         '(y - free * shift) * torch.exp(-log_scale)',
         '(y - free * shift) * torch.exp(log_scale)'),
        ('log-det over the kept coordinates too (s not masked in the sum)',
         'return y, log_scale.sum(dim=(1, 2, 3))',
         'return y, (self.scale * torch.tanh(raw_log_scale)).sum(dim=(1, 2, 3))'),
    ],
    'q7b-code': [
        ('the factor 1 - 2 alpha forgotten in the log-det',
         '(math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p))',
         '(-torch.log(p) - torch.log1p(-p))'),
        ("the logit transform's log-det left out of the NLL",
         '-(log_prior + log_det_flow + log_det_logit)',
         '-(log_prior + log_det_flow)'),
        ('logit of x itself, alpha unused',
         'y = torch.log(p) - torch.log1p(-p)',
         'y = torch.log(x) - torch.log1p(-x)'),
    ],
}  # fmt: skip

# Correct answers written another way (other formulas, torch.distributions, loops, other orders): each must
# score 100. variant-k holds the k-th variant of every answer cell that has one.
VARIANTS = {
    "variant-a": {
        "q4a-code": hostile.code('''
            def causal_mask(kernel_size, mask_type):
                k = kernel_size
                # raster index of each offset; the centre's index is k * k // 2
                return (torch.arange(k * k) < k * k // 2 + (mask_type == "B")).float().view(k, k)


            class MaskedConv2d(nn.Conv2d):
                """A k x k convolution (k odd, padding k // 2) whose kernel is multiplied by causal_mask(k, mask_type):
                (B, C_in, H, W) -> (B, C_out, H, W)."""

                def __init__(self, in_channels, out_channels, kernel_size, mask_type):
                    super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
                    self.register_buffer("mask", causal_mask(kernel_size, mask_type))  # (k, k)

                def forward(self, x):
                    return self._conv_forward(x, self.mask[None, None] * self.weight, self.bias)
        '''),
        "q4b-code": hostile.code("""
            class MaskedResidualBlock(nn.Module):

                def __init__(self, masked_conv):
                    super().__init__()
                    h = masked_conv.in_channels
                    self.reduce = nn.Conv2d(2 * h, h, kernel_size=1)
                    self.masked = masked_conv
                    self.expand = nn.Conv2d(h, 2 * h, kernel_size=1)

                def forward(self, x):
                    out = x
                    for layer in (self.reduce, self.masked, self.expand):
                        out = layer(out.clamp(min=0))
                    return out.add(x)
        """),
        "q4c-code": hostile.code("""
            def causality_jacobian(model, x):
                H, W = x.shape[-2:]
                jacobian = torch.func.jacrev(lambda inp: model(inp).reshape(H * W))(x.detach())  # (HW, 1, 1, H, W)
                return jacobian.reshape(H * W, H * W).abs()
        """),
        "q4d-code": hostile.code("""
            @torch.no_grad()
            def sample_pixelcnn(model, n, height, width, generator):
                x = torch.zeros(n, 1, height, width, device=device)  # pixels not drawn yet are 0
                for i in range(height * width):
                    row, col = divmod(i, width)
                    logits = model(x)[:, 0, row, col].double().cpu()
                    x[:, 0, row, col] = torch.bernoulli(torch.sigmoid(logits), generator=generator).to(x)
                return x
        """),
        "q6a-code": hostile.code("""
            def active_units(posterior_means, threshold=0.01):
                activity = torch.var(posterior_means, dim=0, unbiased=True)
                return activity, sum(1 for a in activity.tolist() if a > threshold)
        """),
        "q1-code": hostile.code('''
            class ResidualBlock(nn.Module):
                """x + conv2(relu(conv1(relu(x)))), 3 x 3 convolutions with padding 1: (B, C, H, W) -> (B, C, H, W)."""

                def __init__(self, channels):
                    super().__init__()
                    self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
                    self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

                def forward(self, x):
                    residual = x.clamp(min=0)
                    for conv in (self.conv1, self.conv2):
                        residual = conv(residual)
                        if conv is self.conv1:
                            residual = torch.relu(residual)
                    return residual.add(x)
        '''),
        "q2a-code": hostile.code("""
            def kl_closed_form(mu, scale_tril):
                q = torch.distributions.MultivariateNormal(mu, scale_tril=scale_tril)
                d = mu.shape[-1]
                zeros, identity = torch.zeros(d, dtype=mu.dtype), torch.eye(d, dtype=mu.dtype)
                prior = torch.distributions.MultivariateNormal(zeros, identity)
                return torch.distributions.kl_divergence(q, prior)
        """),
        "q2b-code": hostile.code("""
            def kl_monte_carlo(mu, scale_tril, eps):
                z = mu + torch.einsum("bij,bj->bi", scale_tril, eps)
                q = torch.distributions.MultivariateNormal(mu, scale_tril=scale_tril)
                return q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
        """),
        "q2c-code": hostile.code("""
            def gaussian_log_likelihood(x, mean, log_scale):
                return torch.distributions.Normal(mean, log_scale.exp()).log_prob(x).reshape(len(x), -1).sum(-1)
        """),
        "q3a-code": hostile.code("""
            def log_importance_weights(x, mu, scale_tril, eps, decode_logits):
                k, B, d = eps.shape
                z = mu + torch.einsum("bij,kbj->kbi", scale_tril, eps)
                logits = decode_logits(z.flatten(0, 1)).unflatten(0, (k, B))
                log_px_z = torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(2).sum(-1)
                q = torch.distributions.MultivariateNormal(mu, scale_tril=scale_tril)
                prior = torch.distributions.Normal(torch.zeros((), dtype=z.dtype), torch.ones((), dtype=z.dtype))
                return log_px_z + prior.log_prob(z).sum(-1) - q.log_prob(z)
        """),
        "q3b-code": hostile.code("""
            def log_mean_exp_in_chunks(sample_log_weights, k, chunk_size):
                running_max, running_sum, left = None, None, k  # a streaming logsumexp
                while left > 0:
                    log_w = sample_log_weights(min(left, chunk_size))
                    left -= len(log_w)
                    chunk_max = log_w.max(0).values
                    new_max = chunk_max if running_max is None else torch.maximum(running_max, chunk_max)
                    chunk_sum = torch.exp(log_w - new_max).sum(0)
                    if running_sum is not None:
                        chunk_sum = chunk_sum + running_sum * torch.exp(running_max - new_max)
                    running_sum = chunk_sum
                    running_max = new_max
                return running_max + torch.log(running_sum / k)
        """),
        "q5a-code": hostile.code("""
            def iaf_transform(z, log_q, context, steps):
                for t in range(len(steps)):
                    m, s = steps[t](z, context)
                    z = m + torch.sigmoid(s) * (z - m)  # the same gated update
                    log_q = log_q - (s - F.softplus(s)).sum(dim=1)  # log sigmoid(s) = s - softplus(s)
                    if t < len(steps) - 1:
                        z = torch.flip(z, dims=[1])
                return z, log_q
        """),
        "q5b-code": hostile.code("""
            def log_q_by_jacobian(transform, z0, log_q0):
                full = torch.autograd.functional.jacobian(transform, z0)  # (B, d, B, d)
                index = torch.arange(len(z0))
                blocks = full[index, :, index, :]  # (B, d, d): each image's own block
                return log_q0 - torch.slogdet(blocks)[1]
        """),
        "q7a-code": hostile.code("""
            def checkerboard_mask(channels, height, width, parity):
                mask = torch.zeros(1, channels, height, width)
                for i in range(height):
                    for j in range(width):
                        if (i + j) % 2 == parity:
                            mask[0, :, i, j] = 1.0
                return mask


            def channel_mask(channels, height, width, parity):
                mask = torch.zeros(1, channels, height, width)
                if parity == 0:
                    mask[:, : channels // 2] = 1.0
                else:
                    mask[:, channels // 2 :] = 1.0
                return mask


            class AffineCoupling(nn.Module):
                def __init__(self, mask, hidden, num_hidden_layers=1):
                    super().__init__()
                    channels = mask.shape[1]
                    self.register_buffer("mask", mask)
                    layers = [nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU()]
                    for _ in range(num_hidden_layers):
                        layers += [nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU()]
                    layers.append(nn.Conv2d(hidden, 2 * channels, 3, padding=1))
                    self.net = nn.Sequential(*layers)
                    nn.init.zeros_(self.net[-1].weight)
                    nn.init.zeros_(self.net[-1].bias)
                    self.scale = nn.Parameter(torch.ones(1, channels, 1, 1))

                def _s_t(self, kept):
                    h = self.net(kept)
                    C = h.shape[1] // 2
                    return self.scale * torch.tanh(h[:, :C]), h[:, C:]

                def forward(self, x):
                    s, t = self._s_t(self.mask * x)
                    y = torch.where(self.mask.bool(), x, x * torch.exp(s) + t)
                    return y, ((1 - self.mask) * s).flatten(1).sum(1)

                def inverse(self, y):
                    s, t = self._s_t(self.mask * y)
                    return torch.where(self.mask.bool(), y, (y - t) / torch.exp(s))
        """),
        "q7b-code": hostile.code("""
            def logit_transform(x, alpha):
                y = torch.logit(alpha + (1 - 2 * alpha) * x)
                per_pixel = math.log(1 - 2 * alpha) + F.softplus(y) + F.softplus(-y)
                return y, per_pixel.reshape(len(x), -1).sum(-1)


            def logit_inverse(y, alpha):
                return (1 / (1 + torch.exp(-y)) - alpha) / (1 - 2 * alpha)


            def flow_nll(flow, x, alpha):
                y, log_det_logit = logit_transform(x, alpha)
                z, log_det_flow = flow(y)
                prior = torch.distributions.Normal(torch.zeros((), dtype=z.dtype), torch.ones((), dtype=z.dtype))
                return -prior.log_prob(z).reshape(len(z), -1).sum(-1) - log_det_flow - log_det_logit
        """),
    },
    "variant-b": {
        "q4c-code": hostile.code("""
            def causality_jacobian(model, x):
                H, W = x.shape[-2:]
                J = torch.zeros(H * W, H * W, dtype=x.dtype)
                for i in range(H * W):
                    inp = x.detach().clone().requires_grad_(True)
                    model(inp).flatten()[i].backward()
                    J[i] = inp.grad.flatten().abs().cpu()
                return J
        """),
        "q4d-code": hostile.code("""
            @torch.no_grad()
            def sample_pixelcnn(model, n, height, width, generator):
                x = torch.zeros(n, 1, height, width, device=device)  # pixels not drawn yet are 0
                u = torch.rand(height, width, n, generator=generator, dtype=torch.float64)  # all the uniforms at once
                for row in range(height):
                    for col in range(width):
                        logit = model(x)[:, 0, row, col].double().cpu()
                        # x = 1 iff u > 1 - sigma(l) = sigma(-l), i.e. log u - log(1 - u) > -l
                        x[:, 0, row, col] = (torch.logit(u[row, col]) > -logit).to(x)
                return x
        """),
        "q6a-code": hostile.code("""
            def active_units(posterior_means, threshold=0.01):
                n = posterior_means.shape[0]
                mean = posterior_means.sum(0, keepdim=True) / n
                activity = ((posterior_means - mean) ** 2).mean(0) * n / (n - 1)
                return activity, int(torch.count_nonzero(activity > threshold).item())
        """),
        "q2a-code": hostile.code("""
            def kl_closed_form(mu, scale_tril):
                covariance = scale_tril @ scale_tril.transpose(-1, -2)
                return 0.5 * (torch.diagonal(covariance, dim1=-2, dim2=-1).sum(-1) + (mu * mu).sum(-1) - mu.size(-1)
                              - torch.logdet(covariance))
        """),
        "q3b-code": hostile.code("""
            def log_mean_exp_in_chunks(sample_log_weights, k, chunk_size):
                sizes = [chunk_size] * (k // chunk_size) + ([k % chunk_size] if k % chunk_size else [])
                all_log_w = torch.cat([sample_log_weights(n) for n in sizes])  # (k, B): small enough to keep
                return torch.logsumexp(all_log_w, 0) - math.log(len(all_log_w))
        """),
        "q5b-code": hostile.code("""
            def log_q_by_jacobian(transform, z0, log_q0):
                out = []
                for b in range(len(z0)):
                    def one_row(v, b=b):
                        rows = z0.clone()
                        rows[b] = v
                        return transform(rows)[b]
                    jacobian = torch.autograd.functional.jacobian(one_row, z0[b])
                    out.append(log_q0[b] - torch.linalg.slogdet(jacobian)[1])
                return torch.stack(out)
        """),
    },
}

SUITE = Suite("hw2", MUTANTS, VARIANTS, TRAINING_RESULTS)
SOLUTION, SOLVED = SUITE.solution, SUITE.solved
globals().update(SUITE.tests())


# ------------------------------------------------------------------------ how often a correct homework loses points
RANDOMIZED = "q4d"  # the one graded cell whose values depend on how the answer draws (the others take noise as input)
EXACT_FOR_A_CORRECT_ANSWER = ("number of entries that are not 0 or 1", "sampler: shape", "draws that differ")
SURE_MODEL = "pixelcnn sampler: mean of 3 images of a sure 4 x 5 model"
FVSBN_FREQUENCIES = "pixelcnn sampler: frequencies of the 64 images of a 2 x 3 FVSBN"


def reference_reports(cells: list[str]) -> tuple[dict, dict]:
    """What the reference solution reports in these cells (answer cells solved, the others as written), run here on
    the CPU: name -> (value, report's keyword arguments), and the namespace the cells ran in."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    reports = {}
    namespace = {"torch": torch, "nn": nn, "F": F, "math": math, "device": torch.device("cpu"),
                 "report": lambda name, value, **kwargs: reports.__setitem__(name, (value, kwargs))}  # fmt: skip
    for cell in SOLUTION["cells"]:
        if cell["id"] in cells:
            exec(SOLVED.get(cell["id"]) or authoring.source_text(cell), namespace)
    return reports, namespace


def false_fail_bounds() -> dict[str, float]:
    """Per check of 4d, an upper bound on the probability that a correct sampler that draws differently fails it."""
    reports, namespace = reference_reports([f"{RANDOMIZED}-code", f"{RANDOMIZED}-check", RANDOMIZED])
    frequencies, kwargs = reports[FVSBN_FREQUENCIES]
    law = namespace["_fvsbn"].law()  # the exact probabilities of the 64 images
    assert abs(law.sum().item() - 1) < 1e-12
    bounds = {FVSBN_FREQUENCIES: hoeffding_frequencies(namespace["_n"], law.tolist(), frequencies.tolist(),
                                                       kwargs["atol"])}  # fmt: skip
    # The sure model's pixels have probability exactly 0 or 1: drawn as u < p or by torch.bernoulli they come out
    # right every time; a threshold that is right but at u = 0 (u > 1 - p) errs with probability 2^-24 per pixel of
    # a float32 uniform. The mean of 3 images, within 0.5, fails only if two of the images err.
    mean_image, kwargs = reports[SURE_MODEL]
    assert kwargs["atol"] == 0.5 and set(mean_image.unique().tolist()) <= {0.0, 1.0}
    image_errs = mean_image.numel() * 2.0**-24
    bounds[SURE_MODEL] = math.comb(3, 2) * image_errs**2
    for name in reports:
        assert name in bounds or any(part in name for part in EXACT_FOR_A_CORRECT_ANSWER), f"{name}: no bound"
    return bounds


def test_a_correct_homework_loses_points_with_probability_below_1e_6():
    bounds = false_fail_bounds()
    assert all(0 <= b < 1e-7 for b in bounds.values()), bounds
    assert sum(bounds.values()) <= 1e-6, bounds
