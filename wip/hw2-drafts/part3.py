# %% [markdown] id=q3-intro
# # Part 3 — A Bernoulli VAE on binarized MNIST, and its importance-sampled likelihood (14 points)
#
# On binary images the decoder outputs one logit per pixel, $p_\theta(x \mid z) = \prod_j
# \mathrm{Bernoulli}(x_j; \operatorname{sigmoid}(\ell_j(z)))$, and $\log p_\theta(x \mid z)$ is minus the binary
# cross-entropy, summed over pixels; the encoder is Part 2's (full covariance). The ELBO is a bound; the number papers
# report is an estimate of $\log p_\theta(x)$ itself, by **importance sampling** with the encoder as proposal
# (Burda et al., 2016):
# $$ \log p_\theta(x) \approx \mathcal L_k(x) = \log \frac1k \sum_{i=1}^k w_i, \qquad
#    w_i = \frac{p_\theta(x \mid z_i)\, p(z_i)}{q_\phi(z_i \mid x)}, \quad z_i \sim q_\phi(\cdot \mid x), $$
# with $\mathbb E[\mathcal L_1] = \text{ELBO} \le \mathbb E[\mathcal L_k] \le \mathbb E[\mathcal L_{k'}] \le \log p_\theta(x)$
# for $k \le k'$. Two practical points decide whether it works: the weights of an MNIST image are around
# $e^{-100}$, far below the smallest float32 (about $10^{-38}$, $e^{-87}$; $e^{-104}$ with subnormals), so everything is
# computed on log-weights; and $k = 1000$ decoder passes per image do not fit in memory at once, so the $k$ draws come
# in chunks, and the chunks must be merged into one average of $k$ weights — not an average of averages' logs, which
# would be $\mathcal L_{\text{chunk}}$, a looser bound.
#
# ## 3a. Log importance weights (6 points)
#
# Write `log_importance_weights(x, mu, scale_tril, eps, decode_logits)`: `x` $(B, 1, 28, 28)$ binary, `mu` $(B, d)$,
# `scale_tril` $(B, d, d)$ (the posterior $\mathcal N(\mu, LL^\top)$), `eps` $(k, B, d)$ standard normal draws, and
# `decode_logits` a function from $(N, d)$ latents to $(N, 1, 28, 28)$ logits (call it once, on all $kB$ latents).
# Return the $(k, B)$ values $\log p_\theta(x \mid z_i) + \log p(z_i) - \log q_\phi(z_i \mid x)$ at
# $z_i = \mu + L\varepsilon_i$, in nats, computed from the logits without ever forming $\log(\operatorname{sigmoid})$.

# %% answer id=q3a-code
def log_importance_weights(x, mu, scale_tril, eps, decode_logits):
    ### BEGIN SOLUTION
    k, B, d = eps.shape
    z = mu + (scale_tril @ eps.unsqueeze(-1)).squeeze(-1)  # (k, B, d): mu and L broadcast over the k draws
    logits = decode_logits(z.reshape(k * B, d)).view(k, B, *x.shape[1:])  # (k, B, 1, 28, 28)
    bce = F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")  # stable in the logits
    log_px_z = -bce.flatten(2).sum(-1)  # (k, B)
    log_pz = -0.5 * (z**2).sum(-1)
    log_qz = -0.5 * (eps**2).sum(-1) - torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)
    return log_px_z + log_pz - log_qz  # the constants -d/2 log 2 pi of log p(z) and log q(z) cancel
    ### END SOLUTION

# %% id=q3a-check
# Self-check: against torch.distributions on a small random decoder (one whose logits reach +-40).
lw_gen = torch.Generator().manual_seed(31)
W_check = 10 * torch.randn(3, 16, generator=lw_gen, dtype=torch.float64)


def decode_check(z):  # (N, 3) -> (N, 1, 4, 4) logits
    return (z @ W_check).view(-1, 1, 4, 4)


x_lw = torch.bernoulli(torch.full((5, 1, 4, 4), 0.4, dtype=torch.float64), generator=lw_gen)
mu_lw, L_lw = torch.randn(5, 3, generator=lw_gen, dtype=torch.float64), random_scale_tril(5, 3, lw_gen)
eps_lw = torch.randn(7, 5, 3, generator=lw_gen, dtype=torch.float64)
z_lw = mu_lw + (L_lw @ eps_lw[..., None])[..., 0]  # (7, 5, 3)
expected_lw = (torch.distributions.Bernoulli(logits=decode_check(z_lw.reshape(-1, 3)).view(7, 5, 1, 4, 4))
               .log_prob(x_lw).flatten(2).sum(-1)
               + torch.distributions.MultivariateNormal(torch.zeros(3, dtype=torch.float64),
                                                        torch.eye(3, dtype=torch.float64)).log_prob(z_lw)
               - torch.distributions.MultivariateNormal(mu_lw, scale_tril=L_lw).log_prob(z_lw))
got_lw = log_importance_weights(x_lw, mu_lw, L_lw, eps_lw, decode_check)
assert got_lw.shape == (7, 5)
assert torch.allclose(got_lw, expected_lw), "differs from torch.distributions"
print("log-weights of the first image (nats):", got_lw[:, 0].numpy().round(2))

# %% graded id=q3a points=6
# Graded (6 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert torch.allclose(log_importance_weights(x_lw, mu_lw, L_lw, eps_lw, decode_check), expected_lw)
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(301)
for _dtype, _scale, _tol in [(torch.float64, 3.0, 1e-9), (torch.float32, 12.0, 1e-4)]:  # float32: logits up to ~60
    _W = _scale * torch.randn(4, 2 * 3 * 5, generator=_gen, dtype=_dtype)

    def _decode(z, _W=_W):  # (N, 4) -> (N, 2, 3, 5)
        return torch.tanh(z @ _W).view(-1, 2, 3, 5) * _W.abs().max() + z[:, :1, None, None]

    _x = torch.bernoulli(torch.full((6, 2, 3, 5), 0.3, dtype=_dtype), generator=_gen)
    _mu, _L = torch.randn(6, 4, generator=_gen, dtype=_dtype), random_scale_tril(6, 4, _gen).to(_dtype)
    _eps = torch.randn(9, 6, 4, generator=_gen, dtype=_dtype)
    report(f"log importance weights, {_dtype}", log_importance_weights(_x, _mu, _L, _eps, _decode), rtol=_tol,
           atol=_tol)
### END HIDDEN TESTS

# %% [markdown] id=q3b-intro
# ## 3b. Averaging $k$ weights in chunks (5 points)
#
# Write `log_mean_exp_in_chunks(sample_log_weights, k, chunk_size)`. `sample_log_weights(n)` returns the $(n, B)$
# log-weights of $n$ fresh draws (for $B$ images); call it with $n \le$ `chunk_size` until exactly $k$ draws are made,
# and return the $(B,)$ values $\log \frac1k \sum_{i=1}^k w_i$ — stable for log-weights far below $-104$, in float32.

# %% answer id=q3b-code
def log_mean_exp_in_chunks(sample_log_weights, k, chunk_size):
    ### BEGIN SOLUTION
    chunk_logsumexps, drawn = [], 0
    while drawn < k:
        n = min(chunk_size, k - drawn)
        chunk_logsumexps.append(torch.logsumexp(sample_log_weights(n), dim=0))  # (B,) log of the chunk's sum
        drawn += n
    return torch.logsumexp(torch.stack(chunk_logsumexps), dim=0) - math.log(k)  # log of the sum of all k, over k
    ### END SOLUTION

# %% id=q3b-check
# Self-check: against torch.logsumexp of all the draws at once, in float64, on weights around e^-500.
table = -500 + 10 * torch.randn(1000, 3, generator=lw_gen, dtype=torch.float64)
rows_drawn = iter(table.split(1))
got_b = log_mean_exp_in_chunks(lambda n: torch.cat([next(rows_drawn) for _ in range(n)]), 1000, 64)
assert got_b.shape == (3,)
assert torch.allclose(got_b, torch.logsumexp(table, 0) - math.log(1000)), "not log (1/k) sum_i w_i"
print("log-mean-exp of 1000 weights around e^-500:", got_b.numpy().round(4))

# %% graded id=q3b points=5
# Graded (5 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert log_mean_exp_in_chunks(lambda n: torch.zeros(n, 2), 10, 3).abs().max() < 1e-6
### BEGIN HIDDEN TESTS
class _LogWeightTable:
    # Hands out the rows of a fixed table in order, whatever the chunks: a correct answer sees exactly its first k
    # rows. Records how many rows were asked for, and the largest single request.
    def __init__(self, values):
        self.values, self.position, self.largest = values, 0, 0

    def __call__(self, n):
        self.largest = max(self.largest, n)
        rows = self.values[self.position : self.position + n]
        self.position += n
        return rows


_gen = torch.Generator().manual_seed(302)
for _k, _chunk, _dtype, _center in [(1000, 128, torch.float32, -150.0), (7, 3, torch.float64, 2.0),
                                    (5, 10, torch.float64, -30.0), (64, 16, torch.float32, -90.0)]:
    _table = _LogWeightTable(_center + 4 * torch.randn(_k + 200, 5, generator=_gen, dtype=_dtype))
    _value = log_mean_exp_in_chunks(_table, _k, _chunk)
    report(f"log-mean-exp, k = {_k}, chunks of {_chunk}", _value, rtol=1e-5, atol=1e-4)
    report(f"log-mean-exp, k = {_k}: draws made", _table.position, atol=0)
    report(f"log-mean-exp, k = {_k}: largest request within the chunk size", float(_table.largest <= _chunk), atol=0)
### END HIDDEN TESTS

# %% [markdown] id=q3-model
# ## 3c. The Bernoulli VAE, trained, and its bounds as $k$ grows (3 points)
#
# Part 2's encoder and decoder, one output channel of logits, the closed-form KL of 2a; trained on dynamically
# binarized images. `importance_sampled_log_likelihood` puts 3a and 3b together, drawing each chunk of $\varepsilon$
# on the model's device. On test images we compare the ELBO (closed-form KL) with $\mathcal L_k$ for
# $k = 1, 10, 100$: $\mathcal L_1$ estimates the same ELBO (with a one-draw KL: they agree on average), and each
# step up in $k$ must raise the bound (one-sided $z$-tests on the paired per-image differences). The reported NLL is
# $-\mathcal L_{1000}$ (in smoke mode $-\mathcal L_{100}$), computed in chunks by 3b.

# %% id=q3-networks
class BernoulliVAE(nn.Module):
    def __init__(self, latent_dim, channels):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = Encoder(latent_dim, channels)
        self.decoder = Decoder(latent_dim, channels, out_channels=1)  # logits (N, 1, 28, 28)

    def negative_elbo(self, x):  # (B, 1, 28, 28) binary -> (B,) one-draw -ELBO, closed-form KL, nats
        mu, scale_tril, _ = self.encoder(x)
        z = mu + (scale_tril @ torch.randn_like(mu).unsqueeze(-1)).squeeze(-1)
        bce = F.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="none").flatten(1).sum(1)
        return bce + kl_closed_form(mu, scale_tril)


@torch.no_grad()
def importance_sampled_log_likelihood(model, x, k, chunk_size=100):  # (B, 1, 28, 28) -> (B,) L_k, nats
    mu, scale_tril, _ = model.encoder(x)

    def sample_log_weights(n):
        eps = torch.randn(n, *mu.shape, device=mu.device)  # (n, B, d)
        return log_importance_weights(x, mu, scale_tril, eps, model.decoder)

    return log_mean_exp_in_chunks(sample_log_weights, k, chunk_size)


Z_CRIT = 3.0  # one-sided z-tests at this many standard errors
bernoulli_config = dict(latent_dim=16, channels=sized(smoke=8, cpu=32, gpu=64), batch_size=sized(32, 128, 128),
                        num_steps=sized(smoke=20, cpu=20_000, gpu=40 * 469), lr=1e-3,
                        max_seconds=sized(smoke=60, cpu=180, gpu=25 * 60))
print(bernoulli_config)
seed_everything(5)
bernoulli_vae = BernoulliVAE(bernoulli_config["latent_dim"], bernoulli_config["channels"]).to(device)
num_is_images = sized(smoke=24, cpu=300, gpu=10_000)
k_nll = sized(smoke=100, cpu=1000, gpu=1000)  # the k of the reported NLL; k = 1000 costs 0.2 s/image on a CPU
chunk_size = sized(smoke=32, cpu=100, gpu=500)
x_is = x_test_binary[:num_is_images]
untrained_nll = -per_image(lambda x: importance_sampled_log_likelihood(bernoulli_vae, x, k_nll, chunk_size),
                           x_is, batch_size=25).mean().item()
start = time.time()
bernoulli_losses = train(bernoulli_vae, lambda model, x: model.negative_elbo(x).mean(),
                         minibatches(grey_train, bernoulli_config["batch_size"], "binarized", torch.Generator().manual_seed(50)),
                         bernoulli_config["num_steps"], bernoulli_config["lr"], bernoulli_config["max_seconds"],
                         desc="Bernoulli VAE")
bernoulli_seconds = time.time() - start
plot_curves({"minibatch -ELBO": bernoulli_losses}, xlabel="step", ylabel="nats / image")
plt.show()

# %% id=q3-bounds
@torch.no_grad()
def log_weight_draws(model, x, n):  # n draws of log-weights per image: (n, B)
    mu, scale_tril, _ = model.encoder(x)
    return log_importance_weights(x, mu, scale_tril, torch.randn(n, *mu.shape, device=mu.device), model.decoder)


def mean_bound(log_w, k):  # (n, B) -> (B,): the mean of L_k over the n // k disjoint groups of k of the draws
    groups = log_w[: len(log_w) // k * k].view(-1, k, log_w.shape[-1])  # (n // k, k, B)
    return (torch.logsumexp(groups, dim=1) - math.log(k)).mean(0)


torch.manual_seed(6)
start = time.time()
num_elbo_draws = 20  # the ELBO of each image as the mean of 20 one-draw estimates (closed-form KL)
elbo_is = per_image(lambda x: -torch.stack([bernoulli_vae.negative_elbo(x) for _ in range(num_elbo_draws)]).mean(0),
                    x_is)
# L_1, L_10 and L_100 from the same 100 draws per image: their paired differences are far less noisy than those of
# independent draws, and each is an unbiased estimate of its E[L_k].
log_w_is = torch.cat([log_weight_draws(bernoulli_vae, xb.to(device), 100).double().cpu() for xb in x_is.split(25)], 1)
bounds = {"ELBO": elbo_is} | {f"L_{k}": mean_bound(log_w_is, k) for k in (1, 10, 100)}
bounds[f"L_{k_nll} (3b, in chunks)"] = per_image(
    lambda x: importance_sampled_log_likelihood(bernoulli_vae, x, k_nll, chunk_size), x_is, batch_size=25)
print(f"{len(x_is):,} test images ({time.time() - start:.0f} s); -bound in nats/image bounds (or estimates) the NLL")
for name, values in bounds.items():
    print(f"{name:>22}: {-values.mean().item():8.2f} +- {values.std().item() / math.sqrt(len(values)):.2f}")
elbo_gap, elbo_gap_error = mean_and_error(bounds["L_1"] - bounds["ELBO"])
print(f"L_1 - ELBO: {elbo_gap:+.3f} +- {elbo_gap_error:.3f} nats (one-draw against closed-form KL)")
assert abs(elbo_gap) < 5 * elbo_gap_error, "L_1 and the ELBO estimate the same number"
for low, high in [("L_1", "L_10"), ("L_10", "L_100")]:
    step, step_error = mean_and_error(bounds[high] - bounds[low])
    print(f"{high} - {low}: {step:+.3f} +- {step_error:.3f} nats")
    assert step > Z_CRIT * step_error, f"{high} should be above {low}"
bernoulli_nll = -bounds[f"L_{k_nll} (3b, in chunks)"].mean().item()
results["Bernoulli VAE test -ELBO (nats/image)"] = -elbo_is.mean().item()
results[f"Bernoulli VAE test NLL, k = {k_nll} (nats/image)"] = bernoulli_nll
print(f"importance-sampled NLL (k = {k_nll}): {bernoulli_nll:.2f} nats after {len(bernoulli_losses)} steps "
      f"({bernoulli_seconds:.0f} s); untrained: {untrained_nll:.2f}. Published (Burda et al., 2016, k = 5000): "
      f"VAE 86.76, IWAE (k = 50 in training) 84.78")

# %% graded id=q3c points=3
# Graded (3 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert bernoulli_nll < untrained_nll
### BEGIN HIDDEN TESTS
report("Bernoulli VAE NLL over the untrained model's", bernoulli_nll / untrained_nll, compare="at_most", bound=1.0)
### END HIDDEN TESTS
