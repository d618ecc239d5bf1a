# %% [markdown] id=q2-intro
# # Part 2 — A Gaussian VAE on dequantized MNIST (18 points)
#
# **The model.** A latent $z \in \mathbb R^d$ with prior $p(z) = \mathcal N(0, I_d)$; a convolutional decoder maps
# $z$ to a mean $\mu_\theta(z) \in (0, 1)^D$ and a log-scale $\log \sigma_\theta(z) \in \mathbb R^D$, **one per pixel**, and
# $$ \log p_\theta(x \mid z) = \sum_{j=1}^{D} \Big( -\frac{(x_j - \mu_j)^2}{2\sigma_j^2} - \log\sigma_j - \tfrac12 \log 2\pi \Big). $$
# (Lecture 6's Gaussian VAE shares one scalar $\sigma$ between all pixels; a per-pixel scale lets the decoder be sure
# of the background and unsure of the strokes' edges.)
#
# **A full-covariance posterior.** Lecture 6's encoder outputs a diagonal Gaussian. Here it outputs a mean $\mu$
# and a **Cholesky factor** $L$ — lower triangular with a positive diagonal — of the covariance:
# $q_\phi(z \mid x) = \mathcal N(\mu, LL^\top)$, drawn by reparameterization as $z = \mu + L\varepsilon$,
# $\varepsilon \sim \mathcal N(0, I_d)$. Correlated posteriors cost $d(d-1)/2$ more outputs and nothing else:
# $$ \mathrm{KL}\big(\mathcal N(\mu, LL^\top) \,\|\, \mathcal N(0, I)\big)
#    = \tfrac12\big(\operatorname{tr}(LL^\top) + \|\mu\|^2 - d - \log\det(LL^\top)\big),
#    \quad \operatorname{tr}(LL^\top) = \textstyle\sum_{ij} L_{ij}^2, \quad \log\det(LL^\top) = 2 \sum_i \log L_{ii}. $$
# The KL is also an expectation, $\mathbb E_q[\log q(z) - \log p(z)]$, and one draw $z = \mu + L\varepsilon$ gives an
# unbiased estimate. Its log-density follows from the change of variables $\varepsilon \mapsto z$, whose Jacobian is
# $L$: $\log q(z) = \log \mathcal N(\varepsilon; 0, I) - \sum_i \log L_{ii}$.
#
# **The ELBO** (nats per image) is $\mathbb E_q[\log p_\theta(x \mid z)] - \mathrm{KL}(q \,\|\, p)$, the first term
# estimated with the same one draw of $z$. Its negative, plus $D \ln 256$, bounds the discrete NLL; in bits per
# dimension, `bits_per_dim(-elbo, D, levels=256)`.
#
# ## 2a. The KL in closed form (5 points)
#
# Write `kl_closed_form(mu, scale_tril)`: `mu` $(B, d)$, `scale_tril` $(B, d, d)$ lower triangular with a positive
# diagonal; returns $(B,)$, nats.

# %% answer id=q2a-code
def kl_closed_form(mu, scale_tril):
    ### BEGIN SOLUTION
    diagonal = torch.diagonal(scale_tril, dim1=-2, dim2=-1)  # (B, d) the positive diagonal of L
    trace = (scale_tril**2).sum((-2, -1))  # tr(L L^T), the squared Frobenius norm of L: (B,)
    log_det = 2 * torch.log(diagonal).sum(-1)  # log det(L L^T): (B,)
    return 0.5 * (trace + (mu**2).sum(-1) - mu.shape[-1] - log_det)
    ### END SOLUTION

# %% id=q2a-check
def random_scale_tril(batch, d, generator):
    # Random Cholesky factors (batch, d, d): a strictly lower part ~ N(0, 0.5^2), a diagonal in (0.2, 2).
    lower = 0.5 * torch.randn(batch, d, d, generator=generator, dtype=torch.float64).tril(-1)
    diagonal = 0.2 + 1.8 * torch.rand(batch, d, generator=generator, dtype=torch.float64)
    return lower + torch.diag_embed(diagonal)


# Self-check: against torch.distributions, and KL(p || p) = 0.
check_gen = torch.Generator().manual_seed(2)
mu_check = torch.randn(6, 5, generator=check_gen, dtype=torch.float64)
L_check = random_scale_tril(6, 5, check_gen)
q_check = torch.distributions.MultivariateNormal(mu_check, scale_tril=L_check)
prior_check = torch.distributions.MultivariateNormal(torch.zeros(5, dtype=torch.float64), torch.eye(5, dtype=torch.float64))
kl_check = kl_closed_form(mu_check, L_check)
assert kl_check.shape == (6,)
assert torch.allclose(kl_check, torch.distributions.kl_divergence(q_check, prior_check)), "differs from torch"
assert kl_closed_form(torch.zeros(1, 5), torch.eye(5)[None]).abs().item() < 1e-6, "KL(p || p) should be 0"
print("KL (nats):", kl_check.numpy().round(3))

# %% graded id=q2a points=5
# Graded (5 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert torch.allclose(kl_closed_form(mu_check, L_check), torch.distributions.kl_divergence(q_check, prior_check))
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(201)
for _d in (1, 3, 8):
    _mu = 2 * torch.randn(7, _d, generator=_gen, dtype=torch.float64)
    report(f"closed-form KL, d = {_d}", kl_closed_form(_mu, random_scale_tril(7, _d, _gen)), rtol=1e-9, atol=1e-9)
### END HIDDEN TESTS

# %% [markdown] id=q2b-intro
# ## 2b. The KL by one Monte Carlo draw (4 points)
#
# Write `kl_monte_carlo(mu, scale_tril, eps)`: with `eps` $(B, d)$ standard normal draws, return the $(B,)$ one-sample
# estimates $\log q(z) - \log p(z)$ at $z = \mu + L\varepsilon$ (nats). The self-check averages many of them.

# %% answer id=q2b-code
def kl_monte_carlo(mu, scale_tril, eps):
    ### BEGIN SOLUTION
    z = mu + (scale_tril @ eps.unsqueeze(-1)).squeeze(-1)  # (B, d) a draw of q
    # log N(.; 0, I) - sum log L_ii: the density of eps, divided by |det L|; the constants -d/2 log 2 pi cancel.
    log_q = -0.5 * (eps**2).sum(-1) - torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)
    log_p = -0.5 * (z**2).sum(-1)
    return log_q - log_p
    ### END SOLUTION

# %% id=q2b-check
# Self-check: unbiased (the mean of many draws is the closed form, within 5 standard errors), and exact for one draw
# against torch.distributions.
num_draws = 20_000
eps_many = torch.randn(num_draws, 6, 5, generator=check_gen, dtype=torch.float64)
kl_draws = kl_monte_carlo(mu_check.expand(num_draws, 6, 5), L_check.expand(num_draws, 6, 5, 5), eps_many)
errors = kl_draws.std(0) / math.sqrt(num_draws)
print("Monte Carlo KL:", kl_draws.mean(0).numpy().round(3), "+-", errors.numpy().round(3))
assert ((kl_draws.mean(0) - kl_check).abs() < 5 * errors).all(), "the estimates are biased"
z_one = mu_check + (L_check @ eps_many[0, :, :, None])[..., 0]
assert torch.allclose(kl_monte_carlo(mu_check, L_check, eps_many[0]),
                      q_check.log_prob(z_one) - prior_check.log_prob(z_one)), "differs from log q(z) - log p(z)"

# %% graded id=q2b points=4
# Graded (4 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert kl_monte_carlo(mu_check, L_check, eps_many[0]).shape == (6,)
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(202)
for _d in (1, 4, 8):
    _mu, _L = torch.randn(9, _d, generator=_gen, dtype=torch.float64), random_scale_tril(9, _d, _gen)
    _eps = torch.randn(9, _d, generator=_gen, dtype=torch.float64)
    report(f"one-sample KL, d = {_d}", kl_monte_carlo(_mu, _L, _eps), rtol=1e-9, atol=1e-9)
### END HIDDEN TESTS

# %% [markdown] id=q2c-intro
# ## 2c. The decoder's log-likelihood (5 points)
#
# Write `gaussian_log_likelihood(x, mean, log_scale)`: $\log p_\theta(x \mid z)$ of the formula above, for images
# `x`, `mean`, `log_scale` of the same shape $(B, C, H, W)$ (or any $(B, \dots)$); returns $(B,)$, nats per image: a sum
# over every dimension but the first.

# %% answer id=q2c-code
def gaussian_log_likelihood(x, mean, log_scale):
    ### BEGIN SOLUTION
    standardized = (x - mean) * torch.exp(-log_scale)
    log_density = -0.5 * standardized**2 - log_scale - 0.5 * math.log(2 * math.pi)  # per dimension
    return log_density.flatten(1).sum(1)
    ### END SOLUTION

# %% id=q2c-check
# Self-check: against torch.distributions.Normal.
x_c = torch.rand(3, 1, 4, 4, generator=check_gen, dtype=torch.float64)
mean_c = torch.rand(3, 1, 4, 4, generator=check_gen, dtype=torch.float64)
log_scale_c = -3 * torch.rand(3, 1, 4, 4, generator=check_gen, dtype=torch.float64)
reference_c = torch.distributions.Normal(mean_c, log_scale_c.exp()).log_prob(x_c).flatten(1).sum(1)
assert torch.allclose(gaussian_log_likelihood(x_c, mean_c, log_scale_c), reference_c)
print("log p(x | z) (nats):", reference_c.numpy().round(3))

# %% graded id=q2c points=5
# Graded (5 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert gaussian_log_likelihood(x_c, mean_c, log_scale_c).shape == (3,)
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(203)
for _shape in [(4, 1, 5, 6), (2, 3, 2, 2), (5, 7)]:
    _x = torch.rand(_shape, generator=_gen, dtype=torch.float64)
    _mean = torch.rand(_shape, generator=_gen, dtype=torch.float64)
    _log_scale = 2 - 6 * torch.rand(_shape, generator=_gen, dtype=torch.float64)  # scales from e^-4 to e^2
    report(f"gaussian log-likelihood, shape {_shape}", gaussian_log_likelihood(_x, _mean, _log_scale),
           rtol=1e-9, atol=1e-9)
### END HIDDEN TESTS

# %% [markdown] id=q2-model
# ## 2d. The convolutional VAE, trained (4 points)
#
# The encoder halves the resolution twice (28 → 14 → 7) with strided convolutions, a residual block at each
# resolution, then a linear layer outputs $\mu$, the log of $L$'s diagonal and its strictly lower entries. The
# decoder mirrors it with transposed convolutions and outputs, per pixel, the mean (through a sigmoid) and the
# log-scale, bounded below by $\log \sigma_{\min} = -7$: a dequantized pixel is spread uniformly over a cell of width
# $1/256$ (standard deviation $1/(256\sqrt{12}) \approx e^{-6.8}$), so no useful scale is smaller. The same two
# networks serve Parts 3 and 5, with one output channel of Bernoulli logits.

# %% id=q2-networks
class Encoder(nn.Module):
    """x (B, 1, 28, 28) -> mean (B, d), Cholesky factor (B, d, d) of q(z | x), and a context (B, context_dim)."""

    def __init__(self, latent_dim, channels, context_dim=0):
        super().__init__()
        self.latent_dim, self.context_dim = latent_dim, context_dim
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1), ResidualBlock(channels),  # (B, c, 14, 14)
            nn.Conv2d(channels, 2 * channels, 3, stride=2, padding=1), ResidualBlock(2 * channels),  # (B, 2c, 7, 7)
            nn.ReLU(), nn.Flatten())
        self.num_lower = latent_dim * (latent_dim - 1) // 2
        self.head = nn.Linear(2 * channels * 49, 2 * latent_dim + self.num_lower + context_dim)
        self.register_buffer("lower_index", torch.tril_indices(latent_dim, latent_dim, offset=-1))

    def forward(self, x):
        d = self.latent_dim
        mu, log_diagonal, lower, context = self.head(self.features(x)).split(
            [d, d, self.num_lower, self.context_dim], dim=-1)
        scale_tril = torch.diag_embed(torch.exp(log_diagonal))  # (B, d, d), a fresh tensor
        scale_tril[:, self.lower_index[0], self.lower_index[1]] = lower  # the strictly lower entries
        return mu, scale_tril, context


class Decoder(nn.Module):
    """z (N, d) -> (N, out_channels, 28, 28) outputs: Gaussian mean and log-scale (2 channels) or logits (1)."""

    def __init__(self, latent_dim, channels, out_channels):
        super().__init__()
        self.channels = channels
        self.project = nn.Linear(latent_dim, 2 * channels * 49)
        self.net = nn.Sequential(
            ResidualBlock(2 * channels),
            nn.ReLU(), nn.ConvTranspose2d(2 * channels, channels, 4, stride=2, padding=1),  # (N, c, 14, 14)
            ResidualBlock(channels),
            nn.ReLU(), nn.ConvTranspose2d(channels, out_channels, 4, stride=2, padding=1))  # (N, out, 28, 28)

    def forward(self, z):
        return self.net(self.project(z).view(-1, 2 * self.channels, 7, 7))


MIN_LOG_SCALE = -7.0


class GaussianVAE(nn.Module):
    def __init__(self, latent_dim, channels):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = Encoder(latent_dim, channels)
        self.decoder = Decoder(latent_dim, channels, out_channels=2)

    def decode(self, z):  # (N, d) -> mean, log-scale, each (N, 1, 28, 28)
        raw_mean, raw_log_scale = self.decoder(z).chunk(2, dim=1)
        return torch.sigmoid(raw_mean), MIN_LOG_SCALE + F.softplus(raw_log_scale - MIN_LOG_SCALE)

    def negative_elbo(self, x, eps=None, monte_carlo_kl=False):  # (B, 1, 28, 28) -> (B,) one-draw -ELBO, nats
        mu, scale_tril, _ = self.encoder(x)
        eps = torch.randn_like(mu) if eps is None else eps  # (B, d)
        z = mu + (scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
        kl = kl_monte_carlo(mu, scale_tril, eps) if monte_carlo_kl else kl_closed_form(mu, scale_tril)
        return kl - gaussian_log_likelihood(x, *self.decode(z))


# %% id=q2-train
gaussian_config = dict(latent_dim=16, channels=sized(smoke=8, cpu=32, gpu=64), batch_size=sized(32, 128, 128),
                       num_steps=sized(smoke=20, cpu=20_000, gpu=30 * 469), lr=1e-3,
                       max_seconds=sized(smoke=60, cpu=210, gpu=25 * 60))
print(gaussian_config)
seed_everything(2)
gaussian_vae = GaussianVAE(gaussian_config["latent_dim"], gaussian_config["channels"]).to(device)
untrained_bpd = bits_per_dim(per_image(gaussian_vae.negative_elbo, x_test_dequantized), D, levels=256).mean().item()
start = time.time()
gaussian_losses = train(gaussian_vae, lambda model, x: model.negative_elbo(x).mean(),
                        minibatches(grey_train, gaussian_config["batch_size"], "dequantized", generator),
                        gaussian_config["num_steps"], gaussian_config["lr"], gaussian_config["max_seconds"],
                        desc="Gaussian VAE")
gaussian_seconds = time.time() - start
torch.manual_seed(3)
gaussian_bpd = bits_per_dim(per_image(gaussian_vae.negative_elbo, x_test_dequantized), D, levels=256)  # (N,)
bpd_mean, bpd_error = mean_and_error(gaussian_bpd)
print(f"test -ELBO bound: {bpd_mean:.4f} +- {bpd_error:.4f} bits/dim after {len(gaussian_losses)} steps "
      f"({gaussian_seconds:.0f} s); untrained {untrained_bpd:.4f}; the uniform density 8")
results["Gaussian VAE test bits/dim (-ELBO bound)"] = bpd_mean
plot_curves({"minibatch -ELBO": gaussian_losses}, xlabel="step", ylabel="nats / image")
plt.show()

# %% [markdown] id=q2-estimators
# **Two estimators of one ELBO.** With the closed-form KL only the reconstruction term is random; with the one-draw
# KL both are. Drawn with the same $\varepsilon$, the two differ by the one-draw KL's error, whose variance has a closed
# form: with $z = \mu + L\varepsilon$,
# $\log q(z) - \log p(z) = \tfrac12 \varepsilon^\top (L^\top L - I)\varepsilon + \mu^\top L \varepsilon + \text{const}$,
# a quadratic form in a standard normal vector, so
# $$ \operatorname{Var}\big[\widehat{\mathrm{KL}}\big] = \tfrac12 \|L^\top L - I\|_F^2 + \|L^\top \mu\|^2, $$
# zero only when $q$ is the prior. On test images and many independent draws per image, the two ELBO estimators
# agree on average, and the one-draw KL's variance matches the formula. Whether it makes the ELBO estimate noisier
# depends on its covariance with the reconstruction term (printed): the usual reason to prefer the closed form
# (Kingma & Welling, 2014) is that it never adds noise of its own.

# %% id=q2-estimators-check
num_repeats = sized(smoke=25, cpu=100, gpu=100)
x_few = x_test_dequantized[: sized(smoke=32, cpu=200, gpu=200)].to(device)
with torch.no_grad():
    mu_few, L_few, _ = gaussian_vae.encoder(x_few)
    closed, sampled, kl_draws = [], [], []
    eps_gen = torch.Generator().manual_seed(4)
    for _ in range(num_repeats):
        eps = torch.randn(mu_few.shape, generator=eps_gen).to(device)  # the same draw for both estimators
        closed.append(gaussian_vae.negative_elbo(x_few, eps).double().cpu())
        sampled.append(gaussian_vae.negative_elbo(x_few, eps, monte_carlo_kl=True).double().cpu())
        kl_draws.append(kl_monte_carlo(mu_few, L_few, eps).double().cpu())
closed, sampled, kl_draws = torch.stack(closed), torch.stack(sampled), torch.stack(kl_draws)  # (R, N) each
difference = sampled.mean(0) - closed.mean(0)  # (N,) per image: two unbiased estimates of one -ELBO
diff_mean, diff_error = mean_and_error(difference)
LtL = L_few.mT.double().cpu() @ L_few.double().cpu()  # (N, d, d)
kl_variance = (0.5 * ((LtL - torch.eye(LtL.shape[-1], dtype=torch.float64)) ** 2).sum((-2, -1))
               + ((L_few.mT.double().cpu() @ mu_few.double().cpu()[..., None]) ** 2).sum((-2, -1)))  # (N,)
variance_gap, variance_gap_error = mean_and_error(kl_draws.var(0) - kl_variance)
print(f"-ELBO, closed-form KL {closed.mean().item():.2f}, one-draw KL {sampled.mean().item():.2f} nats/image; "
      f"difference {diff_mean:+.3f} +- {diff_error:.3f}")
print(f"variance of one -ELBO estimate, mean over images: closed-form KL {closed.var(0).mean().item():.2f}, one-draw "
      f"KL {sampled.var(0).mean().item():.2f} nats^2")
print(f"variance of the one-draw KL: measured {kl_draws.var(0).mean().item():.3f}, formula "
      f"{kl_variance.mean().item():.3f} nats^2 (difference {variance_gap:+.3f} +- {variance_gap_error:.3f})")
assert abs(diff_mean) < 5 * diff_error, "the two estimators disagree on average"
assert abs(variance_gap) < 5 * variance_gap_error, "the one-draw KL's variance differs from its formula"
assert (kl_variance > 0).all()

# %% id=q2-pictures
# Test images, their reconstructions (the decoder's mean at the posterior mean), samples (means at z ~ N(0, I)), and
# an interpolation between the posterior means of two test images.
with torch.no_grad():
    originals = x_test_dequantized[:8].to(device)
    reconstructions = gaussian_vae.decode(gaussian_vae.encoder(originals)[0])[0]
    samples = gaussian_vae.decode(torch.randn(8, gaussian_config["latent_dim"], device=device))[0]
    ends = gaussian_vae.encoder(x_test_dequantized[8:10].to(device))[0]  # (2, d)
    weights = torch.linspace(0, 1, 8, device=device)[:, None]
    path = gaussian_vae.decode((1 - weights) * ends[0] + weights * ends[1])[0]
show_images(torch.cat([originals, reconstructions, samples, path]).cpu(), nrow=8,
            title="test images / reconstructions / samples / interpolation")
plt.show()

# %% graded id=q2d points=4
# Graded (4 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
# Smoke mode: learning happened, the trained model's bound beats the untrained one's. Otherwise: it beats the uniform
# density on [0, 1)^D.
if SMOKE:
    assert bpd_mean < untrained_bpd, f"{bpd_mean:.3f} bits/dim, untrained {untrained_bpd:.3f}"
else:
    assert bpd_mean < 8, f"{bpd_mean:.3f} bits/dim, not below 8"
### BEGIN HIDDEN TESTS
if SMOKE:
    report("Gaussian VAE bits/dim over the untrained model's", bpd_mean / untrained_bpd, compare="at_most", bound=1.0)
else:
    report("Gaussian VAE bits/dim over the uniform density's", bpd_mean / 8, compare="at_most", bound=1.0)
### END HIDDEN TESTS
