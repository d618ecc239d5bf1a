# %% [markdown] id=q5-intro
# # Part 5 — An inverse autoregressive flow in the encoder (12 points)
#
# A Gaussian posterior, even a full-covariance one, cannot bend. An **inverse autoregressive flow** (IAF; Kingma et
# al., 2016) draws $z_0 \sim \mathcal N(\mu, LL^\top)$ as before, with its log-density $\log q_0(z_0)$, then applies $T$
# invertible steps, each computed by an autoregressive network that also sees a context $h(x)$ from the encoder:
# $$ (m, s) = \mathrm{AR}_t(z_{t-1}, h), \quad \sigma = \operatorname{sigmoid}(s), \quad
#    z_t = \sigma \odot z_{t-1} + (1 - \sigma) \odot m, $$
# where $m_i$ and $s_i$ depend on $z_{t-1, <i}$ only. The Jacobian $\partial z_t / \partial z_{t-1}$ is then lower
# triangular with diagonal $\sigma$, so
# $$ \log q_T(z_T \mid x) = \log q_0(z_0 \mid x) - \sum_{t=1}^T \sum_{i=1}^d \log \sigma_{t,i}, $$
# accumulated as the steps go, at the cost of one network pass per step: sampling and density evaluation of *the
# samples* are both cheap, which is what an encoder needs (Lecture 9 compares IAF with MAF, which is cheap the other
# way). The gated form, with $s$'s bias initialized so that $\sigma \approx 1$, starts every step near the identity.
# Between two steps the coordinates are reversed, so that each one is eventually conditioned on all the others.
#
# ## 5a. The flow (7 points)
#
# Write `iaf_transform(z, log_q, context, steps)`: `z` $(B, d)$ a draw of $q_0$ with log-density `log_q` $(B,)$;
# `context` $(B, c)$; `steps` a list of callables, each mapping `(z, context)` to `(m, s)`, $(B, d)$ each. Apply the
# steps in order, reversing the coordinates (`z.flip(-1)`) between two consecutive steps (not before the first nor
# after the last), and return $z_T$ $(B, d)$ and $\log q_T(z_T)$ $(B,)$. Compute $\log\sigma$ stably.

# %% answer id=q5a-code
def iaf_transform(z, log_q, context, steps):
    ### BEGIN SOLUTION
    for t, step in enumerate(steps):
        if t > 0:
            z = z.flip(-1)  # reverse the order, so that each coordinate is conditioned on the others in turn
        m, s = step(z, context)
        gate = torch.sigmoid(s)
        z = gate * z + (1 - gate) * m
        log_q = log_q - F.logsigmoid(s).sum(-1)  # log |det dz_t / dz_(t-1)| = sum_i log sigma_i
    return z, log_q
    ### END SOLUTION

# %% id=q5-made
class AutoregressiveNet(nn.Module):
    """(z, context) -> (m, s), (B, d) each, with m_i and s_i depending on z_<i (and on the context) only: a MADE
    (Germain et al., 2015) with one hidden layer, hidden unit j of degree 1 + j mod (d - 1) seeing the inputs of
    lower or equal degree, output i (degree i) seeing the hidden units of degree < i."""

    def __init__(self, latent_dim, context_dim, hidden_dim, gate_bias=2.0):
        super().__init__()
        d = latent_dim
        degrees_in = torch.arange(1, d + 1)  # (d,)
        degrees_hidden = 1 + torch.arange(hidden_dim) % max(1, d - 1)  # (H,) in 1..d-1
        self.register_buffer("mask_in", (degrees_hidden[:, None] >= degrees_in[None, :]).float())  # (H, d)
        self.register_buffer("mask_out", (degrees_in[:, None] > degrees_hidden[None, :]).float().repeat(2, 1))
        self.inner = nn.Linear(d, hidden_dim)
        self.context = nn.Linear(context_dim, hidden_dim)
        self.outer = nn.Linear(hidden_dim, 2 * d)  # m and s
        with torch.no_grad():
            self.outer.bias[d:] = gate_bias  # sigma = sigmoid(s) ~ 0.88 at the start: each step near the identity

    def forward(self, z, context):
        h = F.elu(F.linear(z, self.inner.weight * self.mask_in, self.inner.bias) + self.context(context))
        m, s = F.linear(h, self.outer.weight * self.mask_out, self.outer.bias).chunk(2, dim=-1)
        return m, s


# Self-check: the steps are autoregressive (the Jacobian of m and s is strictly lower triangular), and 5a's
# log-density equals the change of variables through the triangular Jacobians, computed here with autograd.
torch.manual_seed(7)
ar_steps = [AutoregressiveNet(5, 3, 20).double() for _ in range(3)]
for step in ar_steps:
    with torch.no_grad():
        step.outer.bias.normal_()  # away from the near-identity start, so that nothing is trivially small
z_ar = torch.randn(5, dtype=torch.float64)
context_ar = torch.randn(1, 3, dtype=torch.float64)
jac_m = torch.autograd.functional.jacobian(lambda v: ar_steps[0](v[None], context_ar)[0][0], z_ar)  # (5, 5)
assert (jac_m.triu() == 0).all() and jac_m.tril(-1).abs().sum() > 0, "the network is not autoregressive"
z_T, log_q_T = iaf_transform(z_ar[None], torch.zeros(1, dtype=torch.float64), context_ar, ar_steps)
flow_jacobian = torch.autograd.functional.jacobian(
    lambda v: iaf_transform(v[None], torch.zeros(1, dtype=torch.float64), context_ar, ar_steps)[0][0], z_ar)
assert torch.allclose(log_q_T, -torch.linalg.slogdet(flow_jacobian).logabsdet), "log q is not accumulated right"
print(f"log q_T - log q_0 = {log_q_T.item():.6f} = -log |det J| = {-torch.linalg.slogdet(flow_jacobian).logabsdet:.6f}")

# %% graded id=q5a points=7
# Graded (7 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert torch.allclose(log_q_T, -torch.linalg.slogdet(flow_jacobian).logabsdet)
### BEGIN HIDDEN TESTS
class _LinearARStep:
    # m = W z + V h, s = 2 tanh(U z) + 1 + a h, with W and U strictly lower triangular: autoregressive.
    def __init__(self, d, c, generator):
        def draw(*shape):
            return torch.randn(*shape, generator=generator, dtype=torch.float64)

        self.W, self.U = draw(d, d).tril(-1), draw(d, d).tril(-1)
        self.V, self.a = draw(c, d), draw(c, d)

    def __call__(self, z, h):
        return z @ self.W.T + h @ self.V, 2 * torch.tanh(z @ self.U.T) + 1 + h @ self.a


_gen = torch.Generator().manual_seed(501)
for _T in (1, 3):
    _steps = [_LinearARStep(5, 2, _gen) for _ in range(_T)]
    _z0, _h = torch.randn(4, 5, generator=_gen, dtype=torch.float64), torch.randn(4, 2, generator=_gen, dtype=torch.float64)
    _log_q0 = torch.randn(4, generator=_gen, dtype=torch.float64)
    _zT, _log_qT = iaf_transform(_z0, _log_q0, _h, _steps)
    report(f"IAF with {_T} steps: z_T", _zT, rtol=1e-9, atol=1e-9)
    report(f"IAF with {_T} steps: log q_T", _log_qT, rtol=1e-9, atol=1e-9)
_steep = [lambda z, h: (z, 120 * torch.ones_like(z) + h), lambda z, h: (-z, -120 * torch.ones_like(z) + h)]
_, _log_q_steep = iaf_transform(torch.ones(2, 3), torch.zeros(2), torch.zeros(2, 3), _steep)  # float32, |s| = 120
report("IAF log q with saturated gates", _log_q_steep, rtol=1e-4, atol=1e-3)
### END HIDDEN TESTS

# %% [markdown] id=q5b-intro
# ## 5b. The same density by brute force (5 points)
#
# A flow's log-det formula is easy to get wrong and easy to check: for any invertible map $f$, $\log q(f(z_0)) =
# \log q_0(z_0) - \log|\det \partial f / \partial z_0|$, with the full Jacobian computed by autograd. Write
# `log_q_by_jacobian(transform, z0, log_q0)`: `transform` maps $(B, d)$ to $(B, d)$, each output row depending on its
# own input row only; return the $(B,)$ values $\log q_0 - \log|\det J_b|$, $J_b$ the $d \times d$ Jacobian of row $b$.
# Any determinant sign is possible.

# %% answer id=q5b-code
def log_q_by_jacobian(transform, z0, log_q0):
    ### BEGIN SOLUTION
    z0 = z0.detach().requires_grad_(True)
    out = transform(z0)  # (B, d)
    # Row i of every image's Jacobian at once: rows of the batch are independent, so the gradient of the sum over the
    # batch of output i holds, for each image b, d out_bi / d z0_b.
    rows = [torch.autograd.grad(out[:, i].sum(), z0, retain_graph=True)[0] for i in range(out.shape[1])]
    jacobians = torch.stack(rows, dim=1)  # (B, d, d): [b, i, j] = d out_bi / d z0_bj
    return log_q0 - torch.linalg.slogdet(jacobians).logabsdet
    ### END SOLUTION

# %% id=q5b-check
# Self-check: a linear map z -> z A^T + b has log |det| = log |det A| at every point (here det A < 0).
A_check = torch.tensor([[0.0, 2.0, 0.0], [1.0, 0.0, 0.0], [0.5, 0.5, 3.0]], dtype=torch.float64)  # det = -6
log_q_lin = log_q_by_jacobian(lambda z: z @ A_check.T + 1.0, torch.randn(4, 3, dtype=torch.float64),
                              torch.zeros(4, dtype=torch.float64))
assert torch.allclose(log_q_lin, torch.full((4,), -math.log(6.0), dtype=torch.float64)), "log |det A| = log 6"
# And 5a against 5b on a batch, through three steps:
z_batch, context_batch = torch.randn(6, 5, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
log_q_flow = iaf_transform(z_batch, torch.zeros(6, dtype=torch.float64), context_batch, ar_steps)[1]
log_q_brute = log_q_by_jacobian(
    lambda z: iaf_transform(z, torch.zeros(6, dtype=torch.float64), context_batch, ar_steps)[0], z_batch,
    torch.zeros(6, dtype=torch.float64))
print("log q_T - log q_0, accumulated:", log_q_flow.detach().numpy().round(6))
print("                 by brute force:", log_q_brute.detach().numpy().round(6))
assert torch.allclose(log_q_flow, log_q_brute), "5a and 5b disagree"

# %% graded id=q5b points=5
# Graded (5 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert torch.allclose(log_q_lin, torch.full((4,), -math.log(6.0), dtype=torch.float64))
### BEGIN HIDDEN TESTS
_gen = torch.Generator().manual_seed(502)
for _d, _B in [(4, 3), (1, 5), (6, 2)]:
    _A = torch.randn(_d, _d, generator=_gen, dtype=torch.float64) + 2 * torch.eye(_d, dtype=torch.float64)
    _A[0] = -_A[0]  # a reflection: det < 0 for most points
    _C = torch.randn(_d, _d, generator=_gen, dtype=torch.float64)

    def _transform(z, _A=_A, _C=_C):  # row-wise, invertible near the identity part, a full Jacobian
        return z @ _A.T + 0.3 * torch.tanh(z @ _C.T)

    _z0, _lq = torch.randn(_B, _d, generator=_gen, dtype=torch.float64), torch.randn(_B, generator=_gen, dtype=torch.float64)
    report(f"log q by the Jacobian, d = {_d}, B = {_B}", log_q_by_jacobian(_transform, _z0, _lq), rtol=1e-9, atol=1e-9)
### END HIDDEN TESTS

# %% [markdown] id=q5-model
# ## The ELBO an IAF buys
#
# Part 3's Bernoulli VAE with an IAF posterior: the encoder also outputs a context $h(x)$, and $T = 2$ steps of
# `AutoregressiveNet` transform its Gaussian draw. The one-draw ELBO is now estimated entirely by Monte Carlo,
# $\log p_\theta(x \mid z_T) + \log p(z_T) - \log q_T(z_T \mid x)$: the posterior has no closed-form KL. Trained with the
# same budget, seeds and minibatches as Part 3's model, the two are compared on the same test images by the ELBO and
# by the importance-sampled NLL (the IAF's log-weights, averaged by 3b).

# %% id=q5-train
class IAFVAE(nn.Module):
    def __init__(self, latent_dim, channels, context_dim, hidden_dim, num_steps):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = Encoder(latent_dim, channels, context_dim)
        self.steps = nn.ModuleList([AutoregressiveNet(latent_dim, context_dim, hidden_dim) for _ in range(num_steps)])
        self.decoder = Decoder(latent_dim, channels, out_channels=1)

    def log_weights(self, x, n):  # (B, 1, 28, 28) -> (n, B): log p(x | z) + log p(z) - log q(z | x), z ~ q
        mu, scale_tril, context = self.encoder(x)
        B, d = mu.shape
        eps = torch.randn(n, B, d, device=mu.device)
        z0 = (mu + (scale_tril @ eps.unsqueeze(-1)).squeeze(-1)).flatten(0, 1)  # (n B, d)
        log_q0 = -0.5 * (eps**2).sum(-1) - torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)  # (n, B)
        z, log_q = iaf_transform(z0, log_q0.flatten(), context.repeat(n, 1), self.steps)  # (n B, d), (n B,)
        bce = F.binary_cross_entropy_with_logits(self.decoder(z), x.repeat(n, 1, 1, 1), reduction="none")
        log_w = -bce.flatten(1).sum(1) - 0.5 * (z**2).sum(-1) - log_q  # the constants of log p and log q cancel
        return log_w.view(n, B)


iaf_config = bernoulli_config | dict(context_dim=16, hidden_dim=sized(smoke=32, cpu=128, gpu=256), num_flow_steps=2)
seed_everything(5)  # Part 3's seeds, for the initial weights and for the order of the minibatches
iaf_vae = IAFVAE(iaf_config["latent_dim"], iaf_config["channels"], iaf_config["context_dim"], iaf_config["hidden_dim"],
                 iaf_config["num_flow_steps"]).to(device)
start = time.time()
iaf_losses = train(iaf_vae, lambda model, x: -model.log_weights(x, 1).mean(),
                   minibatches(grey_train, iaf_config["batch_size"], "binarized", torch.Generator().manual_seed(50)),
                   iaf_config["num_steps"], iaf_config["lr"], iaf_config["max_seconds"], desc="IAF VAE")
iaf_seconds = time.time() - start
torch.manual_seed(8)
with torch.no_grad():
    iaf_elbo = per_image(lambda x: iaf_vae.log_weights(x, num_elbo_draws).mean(0), x_is)  # (N,)
    iaf_nll = -per_image(lambda x: log_mean_exp_in_chunks(lambda n: iaf_vae.log_weights(x, n), k_nll, chunk_size),
                         x_is, batch_size=25)
gain, gain_error = mean_and_error(iaf_elbo - bounds["ELBO"])
print(f"{'':>14} {'-ELBO':>8} {'NLL (k = ' + str(k_nll) + ')':>14}   (nats/image, {len(x_is)} test images)")
print(f"{'Gaussian q':>14} {-bounds['ELBO'].mean().item():8.2f} {bernoulli_nll:14.2f}   ({bernoulli_seconds:.0f} s)")
print(f"{'IAF, T = 2':>14} {-iaf_elbo.mean().item():8.2f} {iaf_nll.mean().item():14.2f}   ({iaf_seconds:.0f} s)")
print(f"ELBO gain of the IAF: {gain:+.2f} +- {gain_error:.2f} nats/image")
results["IAF VAE test -ELBO (nats/image)"] = -iaf_elbo.mean().item()
results[f"IAF VAE test NLL, k = {k_nll} (nats/image)"] = iaf_nll.mean().item()
plot_curves({"Gaussian q": bernoulli_losses, "IAF": iaf_losses}, xlabel="step", ylabel="minibatch -ELBO, nats")
plt.show()
