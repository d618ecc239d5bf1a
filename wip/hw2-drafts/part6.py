# %% [markdown] id=q6-intro
# # Part 6 — PixelVAE and posterior collapse (8 points)
#
# A VAE with a factorized decoder must put everything the pixels share into $z$: its samples are blurry, and its
# latent code is informative. A **PixelVAE** (Gulrajani et al., 2017) makes the decoder a PixelCNN conditioned on
# $z$, $p_\theta(x \mid z) = \prod_i p_\theta(x_i \mid x_{<i}, z)$: local structure (strokes, edges) is modelled
# autoregressively, and $z$ is left for the global structure (which digit, its slant). The ELBO is unchanged,
# $$ \log p(x) \ge \mathbb E_{q(z \mid x)}\big[\log p_\theta(x \mid z)\big] - \mathrm{KL}\big(q(z \mid x) \,\|\, p(z)\big), $$
# and so is its weakness: a decoder strong enough to model $p(x)$ on its own can reach the best ELBO with
# $q(z \mid x) = p(z)$ for every $x$, KL $= 0$, and a latent code that says nothing: **posterior collapse**
# (Bowman et al., 2016; Chen et al., 2017). Early in training the KL term's gradient pulls $q$ to the prior
# before the decoder has learned to use $z$, and an autoregressive decoder can do well without it.
#
# Lecture 8 §4 watched a WaveNet decoder ignore $z$ on sequences and fixed it with free bits. Here you measure
# collapse with the standard diagnostic, and try another remedy: a **weaker decoder**, a PixelCNN whose receptive
# field is a few pixels (Chen et al., 2017's "lossy" decoders), so that anything beyond its neighbours must come
# through $z$.

# %% [markdown] id=q6a-intro
# ## 6a. Active units (5 points)
#
# A latent dimension $u$ is *used* when its posterior mean moves with the image. Burda et al. (2016, §5.2)
# call it **active** when
# $$ A_u = \operatorname{Cov}_x\big(\mathbb E_{q(z \mid x)}[z_u]\big) > 0.01, $$
# the variance, over images $x$, of the $u$-th coordinate of the posterior mean. A collapsed dimension has
# $\mathbb E_q[z_u \mid x] \approx 0$ for every $x$, so $A_u \approx 0$; its KL is about 0 too.
#
# Write `active_units(posterior_means, threshold=0.01)`: `posterior_means` $(N, d)$, row $n$ the posterior mean of
# image $n$; return the activities $A$ $(d,)$, the sample variance over the $N$ rows with divisor $N - 1$, and the
# number of dimensions with $A_u > $ `threshold` (a Python `int`).

# %% answer id=q6a-code
def active_units(posterior_means, threshold=0.01):
    ### BEGIN SOLUTION
    centred = posterior_means - posterior_means.mean(0)  # (N, d)
    activity = (centred**2).sum(0) / (len(posterior_means) - 1)  # (d,) unbiased variance over the images
    return activity, int((activity > threshold).sum())
    ### END SOLUTION

# %% id=q6a-check
# Self-check on a synthetic code: dimensions 0 and 2 carry a signal of variance 1 and 0.04; the others are
# collapsed (tiny noise around 0). Activities must match torch.var, and exactly 2 units are active.
check_gen = torch.Generator().manual_seed(61)
means_check = 1e-3 * torch.randn(500, 5, generator=check_gen, dtype=torch.float64)
means_check[:, 0] += torch.randn(500, generator=check_gen, dtype=torch.float64)
means_check[:, 2] += 0.2 * torch.randn(500, generator=check_gen, dtype=torch.float64)
activity_check, count_check = active_units(means_check)
assert activity_check.shape == (5,) and torch.allclose(activity_check, means_check.var(0)), "not the variance"
assert count_check == 2 and isinstance(count_check, int), f"{count_check} active units, expected 2"
assert active_units(means_check + 7.0)[1] == 2, "a constant shift changes no activity"
assert active_units(means_check, threshold=0.05)[1] == 1, "0.04 is below a threshold of 0.05"
print("activities:", activity_check.numpy().round(5))

# %% graded id=q6a points=5
# Graded (5 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert active_units(means_check)[1] == 2
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(601)
for _n, _d in [(4, 3), (50, 6), (2, 1)]:
    _scales = 10 ** (-3 * torch.rand(_d, generator=_gen, dtype=torch.float64))  # standard deviations 1e-3 .. 1
    _means = 3 * torch.randn(_d, generator=_gen, dtype=torch.float64) \
        + _scales * torch.randn(_n, _d, generator=_gen, dtype=torch.float64)
    _activity, _count = active_units(_means)
    report(f"active units: activities, N = {_n}, d = {_d}", _activity, rtol=1e-9, atol=1e-12)
    report(f"active units: count, N = {_n}, d = {_d}", _count, atol=0)
    report(f"active units: count is an int, N = {_n}", isinstance(_count, int), atol=0)
# Variances 0.1^2 .. 0.5^2 around a threshold of 0.05: the count needs the variance, not the standard deviation.
_means = torch.randn(400, 5, generator=_gen, dtype=torch.float64)
_means = (_means - _means.mean(0)) / _means.std(0) * torch.tensor([0.1, 0.2, 0.25, 0.3, 0.5], dtype=torch.float64)
report("active units: count at threshold 0.05", active_units(_means, threshold=0.05)[1], atol=0)
### END HIDDEN TESTS

# %% [markdown] id=q6-model
# ## The PixelVAE
#
# The encoder is a small convolutional network (28 → 14 → 7) that outputs the mean and log-variance of a diagonal
# Gaussian $q(z \mid x)$, $d = 16$. The decoder maps $z$ to a feature map $(C, 28, 28)$ (a linear layer to
# $7 \times 7$, two transposed convolutions) that is **added** to the first masked layer's output, so that every
# logit sees $z$ and the pixels before it. Two decoders:
# - *strong*: a $7 \times 7$ mask-A layer and masked residual blocks (Part 4's PixelCNN);
# - *weak*: a $3 \times 3$ mask-A layer only, then $1 \times 1$ layers: pixel $i$ sees its left, upper-left, upper and
#   upper-right neighbours, and $z$.
#
# Both train on the negative ELBO (closed-form KL, one reparameterized draw of $z$); we record the KL term at each
# step, then measure on the test images the bound $-$ELBO (nats per image), the KL, and the active units.

# %% id=q6-networks
class PixelVAE(nn.Module):
    """A Gaussian encoder q(z | x) and a PixelCNN decoder p(x | z) on binary images (B, 1, 28, 28)."""

    def __init__(self, latent_dim, channels, first_kernel, num_blocks):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, channels, 3, stride=2, padding=1), nn.ReLU(),  # (B, C, 14, 14)
            nn.Conv2d(channels, channels, 3, stride=2, padding=1), nn.ReLU(),  # (B, C, 7, 7)
            nn.Flatten(), nn.Linear(channels * 49, 2 * latent_dim))  # (B, 2d): mean and log-variance
        self.condition = nn.Sequential(
            nn.Linear(latent_dim, channels * 49), nn.Unflatten(1, (channels, 7, 7)), nn.ReLU(),
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1), nn.ReLU(),  # (B, C, 14, 14)
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1))  # (B, C, 28, 28)
        self.first = MaskedConv2d(1, channels, first_kernel, "A")
        h = channels // 2
        self.blocks = nn.Sequential(*[MaskedResidualBlock(MaskedConv2d(h, h, 3, "B")) for _ in range(num_blocks)])
        self.head = nn.Sequential(nn.ReLU(), MaskedConv2d(channels, channels, 1, "B"),
                                  nn.ReLU(), MaskedConv2d(channels, 1, 1, "B"))

    def encode(self, x):  # (B, 1, 28, 28) -> mean, log-variance (B, d) each
        return self.encoder(x).chunk(2, dim=1)

    def decode(self, x, z):  # logits (B, 1, 28, 28) of p(x_i | x_<i, z)
        return self.head(self.blocks(self.first(x) + self.condition(z)))

    def terms(self, x, eps):
        # The negative ELBO's two terms, (B,) nats each, with z = mu + sigma * eps, eps (B, d) standard normal.
        mu, log_var = self.encode(x)
        z = mu + torch.exp(0.5 * log_var) * eps
        reconstruction = F.binary_cross_entropy_with_logits(self.decode(x, z), x, reduction="none").flatten(1).sum(1)
        kl = 0.5 * (mu**2 + log_var.exp() - 1 - log_var).sum(1)
        return reconstruction, kl


pixelvae_config = dict(latent_dim=16, channels=sized(smoke=16, cpu=32, gpu=64),
                       strong_blocks=sized(smoke=1, cpu=3, gpu=8), batch_size=sized(smoke=16, cpu=64, gpu=64),
                       num_steps=sized(smoke=60, cpu=20_000, gpu=20 * 938), lr=sized(smoke=3e-3, cpu=1e-3, gpu=1e-3),
                       max_seconds=sized(smoke=60, cpu=120, gpu=12 * 60))


def train_pixelvae(first_kernel, num_blocks, seed, desc):
    # Train one PixelVAE on the negative ELBO; returns the model and the batch-mean KL of every step (nats).
    c = pixelvae_config
    seed_everything(seed)
    model = PixelVAE(c["latent_dim"], c["channels"], first_kernel, num_blocks).to(device)
    kl_history = []

    def loss_fn(model, x):
        reconstruction, kl = model.terms(x, torch.randn(len(x), c["latent_dim"], device=device))
        kl_history.append(kl.mean().item())
        return (reconstruction + kl).mean()

    batches = minibatches(grey_train, c["batch_size"], "binarized", torch.Generator().manual_seed(seed))
    train(model, loss_fn, batches, c["num_steps"], c["lr"], c["max_seconds"], desc=desc)
    return model, kl_history


@torch.no_grad()
def evaluate_pixelvae(model, x, seed):
    # On images x: -ELBO and KL per image (N,) nats each (one seeded draw of z per image), and the posterior means.
    eps = torch.randn(len(x), pixelvae_config["latent_dim"], generator=torch.Generator().manual_seed(seed))
    reconstruction, kl = zip(*[model.terms(xb.to(device), eb.to(device)) for xb, eb in zip(x.split(500), eps.split(500))])
    means = torch.cat([model.encode(xb.to(device))[0].double().cpu() for xb in x.split(500)])  # (N, d)
    return (torch.cat(reconstruction) + torch.cat(kl)).double().cpu(), torch.cat(kl).double().cpu(), means

# %% id=q6-train
pixelvae_runs = {"strong decoder (7 x 7 A + residual blocks)": (7, pixelvae_config["strong_blocks"]),
                 "weak decoder (3 x 3 A only)": (3, 0)}
pixelvae_results = {}
for name, (kernel, blocks) in pixelvae_runs.items():
    model, kl_history = train_pixelvae(kernel, blocks, seed=6, desc=f"PixelVAE, {name}")
    neg_elbo, kl, means = evaluate_pixelvae(model, x_test_binary, seed=62)
    pixelvae_results[name] = dict(kl_history=kl_history, neg_elbo=mean_and_error(neg_elbo), kl=mean_and_error(kl),
                                  activity=active_units(means))
    print(f"{name}: test -ELBO {neg_elbo.mean():.2f} +- {mean_and_error(neg_elbo)[1]:.2f} nats/image, "
          f"KL {kl.mean():.2f} nats, active units {active_units(means)[1]} of {pixelvae_config['latent_dim']}")
plot_curves({name: r["kl_history"] for name, r in pixelvae_results.items()}, ylabel="KL term (nats, batch mean)")
plt.show()
strong, weak = pixelvae_results.values()
results["PixelVAE strong decoder: test -ELBO (nats/image)"] = strong["neg_elbo"][0]
results["PixelVAE strong decoder: test KL (nats/image)"] = strong["kl"][0]
results["PixelVAE weak decoder: test -ELBO (nats/image)"] = weak["neg_elbo"][0]
results["PixelVAE weak decoder: test KL (nats/image)"] = weak["kl"][0]

# %% [markdown] id=q6b-intro
# ## 6b. What the remedy does (3 points)
#
# The curves show the KL term as training goes. With the strong decoder it rises for a while, then falls as the
# PixelCNN learns to do without $z$; with the weak decoder it stays high: the latent code carries what the decoder
# cannot see. Graded: on the test images, the strong decoder's KL is below the weak decoder's. Compare the bounds
# too: the weak decoder pays for its information with a worse (or, at small scale, similar) $-$ELBO. Free bits and
# KL warm-up keep the strong decoder and change the objective instead; the choice is between the best likelihood
# and a useful latent code.

# %% graded id=q6b points=3
# Graded (3 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert strong["kl"][0] < weak["kl"][0], f"KL: strong decoder {strong['kl'][0]:.2f}, weak {weak['kl'][0]:.2f} nats"
### BEGIN HIDDEN TESTS
report("PixelVAE test KL, strong decoder over weak decoder", strong["kl"][0] / weak["kl"][0], compare="at_most",
       bound=1.0)
### END HIDDEN TESTS
