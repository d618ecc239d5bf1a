# %% [markdown] id=q4-intro
# # Part 4 — PixelCNN on binarized MNIST (26 points)
#
# A VAE's likelihood is a bound; an **autoregressive** model's is exact. Order the $D = 784$ pixels in **raster
# order** (row by row, left to right within a row) and write the joint law as a product of conditionals,
# $$ p(x) = \prod_{i=1}^{D} p(x_i \mid x_{<i}), \qquad
#    p(x_i = 1 \mid x_{<i}) = \sigma\big(\ell_i(x_{<i})\big), \qquad
#    -\log p(x) = \sum_{i=1}^{D} \mathrm{BCE}\big(\ell_i, x_i\big) \ \text{nats}, $$
# where $\ell_i$ is a logit and $\mathrm{BCE}(\ell, x) = -x \log\sigma(\ell) - (1 - x)\log(1 - \sigma(\ell))$.
# **PixelCNN** (van den Oord et al., 2016) computes all $D$ logits in *one* pass of a convolutional network whose
# kernels are **masked** so that $\ell_i$ depends on $x_{<i}$ only: training and exact evaluation cost one pass,
# sampling costs $D$ passes (one per pixel).
#
# Lecture 8 §3 mapped which pixels fixed single-channel $3 \times 3$ stacks can see. Here you write the masked layer
# itself, for any kernel size and any number of channels, build the network, check its causality through
# gradients, train it and sample from it.

# %% [markdown] id=q4a-intro
# ## 4a. Masked convolutions (6 points)
#
# A $k \times k$ kernel ($k$ odd) centred on pixel $i$ covers offsets $(r, c)$, $-k/2 < r, c < k/2$. In raster
# order the offsets *before* the centre are the rows above ($r < 0$, every column) and, in the centre row, the
# columns to the left ($r = 0$, $c < 0$). The **mask** is 1 there and 0 elsewhere:
# - mask **A** (the first layer, which reads the image): the centre is excluded, so that $\ell_i$ never sees
#   $x_i$;
# - mask **B** (every later layer): the centre is included. After layer A, the features at position $i$ depend on
#   $x_{<i}$ only, so reading them is safe.
#
# For $k = 3$: A $= \begin{smallmatrix}1&1&1\\1&0&0\\0&0&0\end{smallmatrix}$,
# B $= \begin{smallmatrix}1&1&1\\1&1&0\\0&0&0\end{smallmatrix}$. The same $k \times k$ mask serves every pair of
# input and output channels: with colour images, each pixel has three sub-pixels (R, G, B) to order and the
# channels must be split into groups that see only the earlier colours; a binary image has **one** input channel,
# so the only ordering is the spatial one and no channel grouping is needed.
#
# Write `causal_mask(kernel_size, mask_type)`, returning the $(k, k)$ float tensor of zeros and ones, and
# `MaskedConv2d.forward`, a convolution with the masked kernel `weight * mask` (same padding, stride 1). Mask the
# kernel on the fly in `forward`, without changing the parameter `weight`: the masked entries then receive zero
# gradient and stay irrelevant.

# %% answer id=q4a-code
def causal_mask(kernel_size, mask_type):
    """(kernel_size, kernel_size) float: 1 at the offsets before the centre in raster order (and, for mask "B",
    at the centre itself), 0 elsewhere."""
    ### BEGIN SOLUTION
    centre = kernel_size // 2
    mask = torch.zeros(kernel_size, kernel_size)
    mask[:centre, :] = 1  # the rows above
    mask[centre, :centre] = 1  # the pixels to the left in the centre row
    if mask_type == "B":
        mask[centre, centre] = 1  # the centre: after layer A it holds information about x_<i only
    return mask
    ### END SOLUTION


class MaskedConv2d(nn.Conv2d):
    """A k x k convolution (k odd, padding k // 2) whose kernel is multiplied by causal_mask(k, mask_type):
    (B, C_in, H, W) -> (B, C_out, H, W)."""

    def __init__(self, in_channels, out_channels, kernel_size, mask_type):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask", causal_mask(kernel_size, mask_type))  # (k, k), the same for every channel pair

    def forward(self, x):
        ### BEGIN SOLUTION
        # (C_out, C_in, k, k) * (k, k): masked on the fly, so the parameter itself is never changed
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)
        ### END SOLUTION

# %% id=q4a-check
# Self-check: the 3 x 3 masks written out above, and the 7 x 7 mask A drawn; a masked layer's output at a pixel
# does not move when the pixel itself or any later pixel changes (mask A), and does when an earlier one changes.
MASK_A_3 = torch.tensor([[1.0, 1, 1], [1, 0, 0], [0, 0, 0]])
MASK_B_3 = torch.tensor([[1.0, 1, 1], [1, 1, 0], [0, 0, 0]])
assert torch.equal(causal_mask(3, "A"), MASK_A_3), f"mask A:\n{causal_mask(3, 'A')}"
assert torch.equal(causal_mask(3, "B"), MASK_B_3), f"mask B:\n{causal_mask(3, 'B')}"
assert causal_mask(7, "A").sum() == 24 and causal_mask(7, "B").sum() == 25, "7 x 7: 24 pixels before the centre"
torch.manual_seed(4)
layer_check = MaskedConv2d(1, 3, 5, "A").double()
x_a = torch.rand(1, 1, 6, 6, dtype=torch.float64)
weight_before = layer_check.weight.detach().clone()
out_a = layer_check(x_a)  # (1, 3, 6, 6)
assert out_a.shape == (1, 3, 6, 6) and torch.equal(layer_check.weight, weight_before), "forward changed weight"
x_later = x_a.clone()
x_later[0, 0, 3, 2:] += 1  # pixel (3, 2) itself and the rest of its row
x_later[0, 0, 4:] += 1  # and every row below
assert torch.allclose(layer_check(x_later)[0, :, 3, 2], out_a[0, :, 3, 2]), "pixel (3, 2) sees itself or later"
x_earlier = x_a.clone()
x_earlier[0, 0, 3, 1] += 1  # the left neighbour of (3, 2)
assert not torch.allclose(layer_check(x_earlier)[0, :, 3, 2], out_a[0, :, 3, 2]), "the left neighbour is not read"
fig, axes = plt.subplots(1, 2, figsize=(4, 2))
for ax, kind in zip(axes, "AB"):
    ax.imshow(causal_mask(7, kind), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"7 x 7 mask {kind}")
    ax.set_axis_off()
plt.show()
print("4a self-check passed")

# %% graded id=q4a points=6
# Graded (6 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert torch.equal(causal_mask(3, "A"), MASK_A_3) and torch.equal(causal_mask(3, "B"), MASK_B_3)
### BEGIN HIDDEN TESTS
for _k in (1, 3, 5, 7):
    for _kind in "AB":
        report(f"causal mask {_k} x {_k} {_kind}", causal_mask(_k, _kind), atol=0)
_gen = torch.Generator().manual_seed(401)
for _c_in, _c_out, _k, _kind in [(2, 3, 5, "A"), (3, 2, 3, "B"), (1, 4, 7, "A")]:
    torch.manual_seed(402)
    _layer = MaskedConv2d(_c_in, _c_out, _k, _kind).double()
    _x = torch.randn(2, _c_in, 6, 7, generator=_gen, dtype=torch.float64)
    _out = _layer(_x)
    report(f"masked conv output {_c_in}->{_c_out}, {_k} x {_k} {_kind}", _out, rtol=1e-9, atol=1e-9)
    _out.square().sum().backward()
    report(f"masked conv weight gradient {_k} x {_k} {_kind}", _layer.weight.grad, rtol=1e-9, atol=1e-9)
### END HIDDEN TESTS

# %% [markdown] id=q4b-intro
# ## 4b. The masked residual block (5 points)
#
# Deeper layers see farther: van den Oord et al. (2016, Fig. 5) stack **residual blocks** on $2h$ channels,
# $$ \operatorname{block}(x) = x + \operatorname{conv}^{1 \times 1}_{h \to 2h}\Big(\operatorname{ReLU}\big(
#    \operatorname{mconv}^{3 \times 3, B}_{h \to h}\big(\operatorname{ReLU}(\operatorname{conv}^{1 \times 1}_{2h \to h}
#    (\operatorname{ReLU}(x)))\big)\big)\Big): $$
# a $1 \times 1$ convolution halves the channels, a masked $3 \times 3$ convolution of type B mixes neighbours, a
# $1 \times 1$ convolution restores the channels, each after a ReLU. A $1 \times 1$ convolution reads the centre
# only, which type B allows; so the block stays causal. The block receives its masked layer (in the PixelCNN below,
# `MaskedConv2d(h, h, 3, "B")`). Write `forward`: $(B, 2h, H, W) \to (B, 2h, H, W)$, without changing its input.

# %% answer id=q4b-code
class MaskedResidualBlock(nn.Module):
    """x + expand(relu(masked(relu(reduce(relu(x)))))): (B, 2h, H, W) -> (B, 2h, H, W), where masked is the given
    causal 3 x 3 layer on h channels."""

    def __init__(self, masked_conv):
        super().__init__()
        h = masked_conv.in_channels
        self.reduce = nn.Conv2d(2 * h, h, kernel_size=1)
        self.masked = masked_conv
        self.expand = nn.Conv2d(h, 2 * h, kernel_size=1)

    def forward(self, x):
        ### BEGIN SOLUTION
        h = self.reduce(F.relu(x))  # (B, h, H, W)
        h = self.masked(F.relu(h))  # (B, h, H, W), causal
        h = self.expand(F.relu(h))  # (B, 2h, H, W)
        return x + h
        ### END SOLUTION

# %% id=q4b-check
# Self-check: shape; identity when the last layer is zero; input unchanged; the correction depends on ReLU(x) only;
# and with the 3 x 3 layer's weights zeroed, only its bias passes: the block adds one constant per channel.
torch.manual_seed(5)
block_check = MaskedResidualBlock(MaskedConv2d(3, 3, 3, "B")).double()
x_b = torch.randn(2, 6, 5, 7, dtype=torch.float64)
x_b_before = x_b.clone()
out_b = block_check(x_b)
assert out_b.shape == x_b.shape and torch.equal(x_b, x_b_before), "wrong shape, or forward changed its input"
x_b_other = torch.where(x_b > 0, x_b, -torch.rand_like(x_b))
assert torch.allclose(block_check(x_b_other) - x_b_other, out_b - x_b), "the correction should see ReLU(x) only"
with torch.no_grad():
    block_check.masked.weight.zero_()
    correction = block_check(x_b) - x_b  # (2, 6, 5, 7)
    expected = block_check.expand(F.relu(block_check.masked.bias).view(1, 3, 1, 1))  # (1, 6, 1, 1)
    assert torch.allclose(correction, expected.expand_as(correction)), "the layers are not in the right order"
    block_check.expand.weight.zero_()
    block_check.expand.bias.zero_()
    assert torch.equal(block_check(x_b), x_b), "with the last layer zero, the block must be the identity"
print("4b self-check passed")

# %% graded id=q4b points=5
# Graded (5 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert MaskedResidualBlock(nn.Conv2d(4, 4, 3, padding=1))(torch.zeros(1, 8, 5, 5)).shape == (1, 8, 5, 5)
### BEGIN HIDDEN TESTS
# The block's own masked layer is a fixture (a plain convolution with a mask B written out), not 4a's answer.
_gen = torch.Generator().manual_seed(411)
for _h, _shape in [(3, (2, 6, 5, 4)), (5, (1, 10, 3, 6))]:
    torch.manual_seed(412)
    _conv = nn.Conv2d(_h, _h, 3, padding=1)
    with torch.no_grad():
        _conv.weight.mul_(torch.tensor([[1.0, 1, 1], [1, 1, 0], [0, 0, 0]]))
    _block = MaskedResidualBlock(_conv).double()
    with torch.no_grad():
        for _p in _block.parameters():
            _p.copy_(0.5 * torch.randn(_p.shape, generator=_gen, dtype=torch.float64))
    _x = 2 * torch.randn(_shape, generator=_gen, dtype=torch.float64)
    _x_before = _x.clone()
    report(f"masked residual block output, h = {_h}", _block(_x), rtol=1e-9, atol=1e-9)
    report(f"masked residual block, h = {_h}: input entries changed by forward", (_x != _x_before).sum(), atol=0)
### END HIDDEN TESTS

# %% [markdown] id=q4-model
# ## The PixelCNN
#
# A $7 \times 7$ mask-A layer reads the image; residual blocks on $2h$ channels follow; two $1 \times 1$ mask-B
# layers (ReLU before each) map the features to one logit per pixel. Its exact NLL, in nats per image, is the
# summed binary cross-entropy of the logits.

# %% id=q4-network
class PixelCNN(nn.Module):
    """Binary images (B, 1, H, W) -> logits (B, 1, H, W): logit i depends on the pixels before i in raster order."""

    def __init__(self, channels, num_blocks):
        super().__init__()
        h = channels // 2
        self.net = nn.Sequential(
            MaskedConv2d(1, channels, 7, "A"),  # (B, 2h, H, W)
            *[MaskedResidualBlock(MaskedConv2d(h, h, 3, "B")) for _ in range(num_blocks)],
            nn.ReLU(), MaskedConv2d(channels, channels, 1, "B"),
            nn.ReLU(), MaskedConv2d(channels, 1, 1, "B"))  # (B, 1, H, W)

    def forward(self, x):
        return self.net(x)


def pixelcnn_nll(model, x):
    # The exact -log p(x) of binary images x (B, 1, H, W): (B,) nats per image.
    return F.binary_cross_entropy_with_logits(model(x), x, reduction="none").flatten(1).sum(1)


pixelcnn_config = dict(channels=sized(smoke=16, cpu=32, gpu=128), num_blocks=sized(smoke=1, cpu=3, gpu=12),
                       batch_size=sized(smoke=16, cpu=64, gpu=64), num_steps=sized(smoke=60, cpu=20_000, gpu=40 * 938),
                       lr=sized(smoke=3e-3, cpu=1e-3, gpu=1e-3), max_seconds=sized(smoke=60, cpu=210, gpu=30 * 60))
seed_everything(4)
pixelcnn = PixelCNN(pixelcnn_config["channels"], pixelcnn_config["num_blocks"]).to(device)
print(f"PixelCNN: {sum(p.numel() for p in pixelcnn.parameters()):,} parameters")

# %% [markdown] id=q4c-intro
# ## 4c. Causality, through gradients (6 points)
#
# Masks are easy to get subtly wrong (a transposed mask, the centre in layer A, an off-by-one in a row), and a
# model that peeks at $x_i$ reports a wonderful NLL that is not a likelihood. The test that cannot be fooled asks
# the network itself: for every output pixel $i$ and input pixel $j$ (both in raster order, $i = rW + c$),
# $$ J_{ij} = \Big|\frac{\partial \ell_i}{\partial x_j}\Big| \text{ must be } 0 \text{ for every } j \ge i, $$
# on a random (not binary) input, where no ReLU is dead everywhere; and nonzero for some $j < i$.
#
# Write `causality_jacobian(model, x)`: for a model mapping $(1, 1, H, W)$ to $(1, 1, H, W)$ and an input `x` of
# that shape, return the $(HW, HW)$ matrix $J$ (dtype of `x`), row $i$ = output pixel, column $j$ = input pixel,
# both flattened in raster order. Use autograd (one backward pass per output pixel, or `torch.func.jacrev`).

# %% answer id=q4c-code
def causality_jacobian(model, x):
    ### BEGIN SOLUTION
    H, W = x.shape[-2:]
    x = x.detach().clone().requires_grad_(True)
    logits = model(x).reshape(H * W)  # (HW,) raster order
    rows = []
    for i in range(H * W):
        (grad,) = torch.autograd.grad(logits[i], x, retain_graph=True)  # (1, 1, H, W) = d logit_i / d x
        rows.append(grad.reshape(H * W))
    return torch.stack(rows).abs()  # (HW, HW)
    ### END SOLUTION

# %% id=q4c-check
# Self-check on the untrained PixelCNN, on a random 10 x 10 input (the network is convolutional: any size works):
# nothing on or above the diagonal, and something below it. The same test catches a leaky model, here a plain
# 3 x 3 convolution, which reads the pixel itself and its right and lower neighbours.
x_c = torch.rand(1, 1, 10, 10, generator=torch.Generator().manual_seed(6)).to(device)
J = causality_jacobian(pixelcnn, x_c).cpu()  # (100, 100)
assert J.shape == (100, 100)
assert (J.triu() == 0).all(), f"leak: logit i depends on x_j, j >= i, for {(J.triu() > 0).sum()} pairs"
assert (J.tril(-1) > 0).any(), "the logits depend on no earlier pixel"
J_leaky = causality_jacobian(nn.Conv2d(1, 1, 3, padding=1).to(device), x_c).cpu()
assert (J_leaky.triu() > 0).any(), "a plain convolution must show a leak"
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
for ax, matrix, title in [(axes[0], J, "PixelCNN: |d logit_i / d x_j|"), (axes[1], J_leaky, "plain 3 x 3 conv")]:
    ax.imshow(matrix > 0, cmap="gray_r")
    ax.set(title=title, xlabel="input pixel j", ylabel="output pixel i")
plt.show()
print(f"the PixelCNN's logit 99 reads {(J[99] > 0).sum().item()} of the 99 earlier pixels of a 10 x 10 image")

# %% graded id=q4c points=6
# Graded (6 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert causality_jacobian(nn.Conv2d(1, 1, 1), torch.rand(1, 1, 2, 3)).shape == (6, 6)
### BEGIN HIDDEN TESTS
# Fixtures of the grader's own (not 4a's layers): a causal model, a leaky one, a dense map; non-square images.
class _Causal(nn.Module):
    def __init__(self, seed):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = nn.Parameter(torch.randn(3, 1, 3, 3, generator=g, dtype=torch.float64)
                               * torch.tensor([[1.0, 1, 1], [1, 0, 0], [0, 0, 0]], dtype=torch.float64))
        self.w2 = nn.Parameter(torch.randn(1, 3, 3, 3, generator=g, dtype=torch.float64)
                               * torch.tensor([[1.0, 1, 1], [1, 1, 0], [0, 0, 0]], dtype=torch.float64))

    def forward(self, x):
        return F.conv2d(torch.tanh(F.conv2d(x, self.w1, padding=1)), self.w2, padding=1)


class _Leaky(nn.Module):
    def __init__(self, seed):
        super().__init__()
        self.w = nn.Parameter(torch.randn(1, 1, 3, 3, generator=torch.Generator().manual_seed(seed),
                                          dtype=torch.float64))

    def forward(self, x):
        return torch.sin(F.conv2d(x, self.w, padding=1)) * x


class _Dense(nn.Module):
    def __init__(self, seed, height, width):
        super().__init__()
        self.shape = (height, width)
        self.w = nn.Parameter(torch.randn(height * width, height * width,
                                          generator=torch.Generator().manual_seed(seed), dtype=torch.float64))

    def forward(self, x):
        return (x.reshape(-1) @ self.w.T).reshape(1, 1, *self.shape)


_gen = torch.Generator().manual_seed(421)
for _name, _model, (_H, _W) in [("causal", _Causal(422), (4, 5)), ("leaky", _Leaky(423), (3, 4)),
                                 ("dense", _Dense(424, 3, 2), (3, 2))]:
    _x = torch.randn(1, 1, _H, _W, generator=_gen, dtype=torch.float64)
    report(f"causality jacobian, {_name} fixture {_H} x {_W}", causality_jacobian(_model, _x), rtol=1e-9, atol=1e-12)
### END HIDDEN TESTS

# %% [markdown] id=q4d-intro
# ## 4d. Sampling, pixel by pixel (6 points)
#
# Sampling follows the chain rule: draw $x_1 \sim p(x_1)$, then $x_2 \sim p(x_2 \mid x_1)$, ..., in raster order.
# Each draw needs the logit $\ell_i$ computed from the pixels already drawn: one pass of the network per pixel
# (the logits of later pixels in that pass are computed from zeros, and are not used).
#
# Write `sample_pixelcnn(model, n, height, width, generator)`: `n` binary images $(n, 1, H, W)$ (floats 0 and 1)
# drawn from `model` (logits $(n, 1, H, W)$ from images $(n, 1, H, W)$). Draw every random number from
# `generator`, a CPU generator: draw on the CPU (e.g. `torch.rand(n, generator=generator)`) and move the result
# to the model's device. Any correct way of drawing scores full marks: the grader checks the law of the samples.

# %% answer id=q4d-code
@torch.no_grad()
def sample_pixelcnn(model, n, height, width, generator):
    x = torch.zeros(n, 1, height, width, device=device)  # pixels not drawn yet are 0
    ### BEGIN SOLUTION
    for row in range(height):
        for col in range(width):
            probs = torch.sigmoid(model(x)[:, 0, row, col])  # (n,): depends on the pixels already drawn only
            u = torch.rand(n, generator=generator).to(probs.device)  # (n,) uniforms from the CPU generator
            x[:, 0, row, col] = (u < probs).to(x.dtype)  # 1 with probability sigma(logit)
    return x
    ### END SOLUTION

# %% id=q4d-check
# Self-check on a two-pixel model written by hand: p(x_1 = 1) = 0.8, and x_2 copies x_1 with probability 0.9.
# Its four configurations have the probabilities below; the frequencies must lie within 5 standard errors.
class TwoPixelModel(nn.Module):
    def forward(self, x):  # (n, 1, 1, 2) -> logits (n, 1, 1, 2)
        logit_1 = torch.full_like(x[:, :, :, 0], math.log(0.8 / 0.2))
        logit_2 = (2 * x[:, :, :, 0] - 1) * math.log(0.9 / 0.1)  # +log 9 if x_1 = 1, -log 9 if x_1 = 0
        return torch.stack([logit_1, logit_2], dim=-1)


n_check = 20_000
two_pixel = sample_pixelcnn(TwoPixelModel(), n_check, 1, 2, torch.Generator().manual_seed(7)).cpu()
assert two_pixel.shape == (n_check, 1, 1, 2) and set(two_pixel.unique().tolist()) <= {0.0, 1.0}
codes = (2 * two_pixel[:, 0, 0, 0] + two_pixel[:, 0, 0, 1]).long()  # 00, 01, 10, 11 -> 0, 1, 2, 3
frequencies = torch.bincount(codes, minlength=4).double() / n_check
law = torch.tensor([0.2 * 0.9, 0.2 * 0.1, 0.8 * 0.1, 0.8 * 0.9], dtype=torch.float64)
print("frequencies of 00, 01, 10, 11:", frequencies.numpy().round(4), " exact:", law.numpy())
assert ((frequencies - law).abs() < 5 * torch.sqrt(law * (1 - law) / n_check)).all(), "not the model's law"

# %% graded id=q4d points=6
# Graded (6 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert sample_pixelcnn(TwoPixelModel(), 10, 1, 2, torch.Generator().manual_seed(8)).shape == (10, 1, 1, 2)
### BEGIN HIDDEN TESTS
class _FVSBN(nn.Module):
    # A fully visible sigmoid belief net on 2 x 3 images: logit_i = b_i + sum_{j < i} W_ij x_j (raster order).
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(431)
        self.register_buffer("b", 1.5 * torch.randn(6, generator=g, dtype=torch.float64))
        self.register_buffer("W", (3 * torch.randn(6, 6, generator=g, dtype=torch.float64)).tril(-1))

    def forward(self, x):
        return (self.b + x.flatten(1).double() @ self.W.T).view(-1, 1, 2, 3)

    def law(self):  # the exact probability of each of the 64 images, code = sum_i x_i 2^(5 - i)
        bits = ((torch.arange(64)[:, None] >> torch.arange(5, -1, -1)) & 1).double()  # (64, 6) raster order
        logits = self.b + bits @ self.W.T  # (64, 6)
        return torch.exp(-F.binary_cross_entropy_with_logits(logits, bits, reduction="none").sum(1))


class _Sure(nn.Module):
    # Logits of +-1000 (probabilities exactly 1 or 0): pixel i is 1 iff i + sum_{j < i} (j + 1) x_j is a multiple
    # of 3, raster order, so a correct sampler draws one sure image.
    def forward(self, x):
        flat = x.flatten(1).double()  # (n, HW)
        index = torch.arange(flat.shape[1], dtype=torch.float64, device=flat.device)
        before = torch.cumsum(flat * (index + 1), dim=1) - flat * (index + 1)  # sum over j < i
        return (1000.0 * (2.0 * (torch.remainder(index + before, 3) == 0) - 1)).view(x.shape)


_fvsbn = _FVSBN().to(device)
_n = 20_000
_x = sample_pixelcnn(_fvsbn, _n, 2, 3, torch.Generator().manual_seed(432)).cpu()
report("pixelcnn sampler: number of entries that are not 0 or 1", ((_x != 0) & (_x != 1)).sum(), atol=0)
report("pixelcnn sampler: shape", torch.tensor(_x.shape), atol=0)
# Each of the 64 frequencies is within t of its probability but with probability 2 exp(-2 N t^2) (Hoeffding): a band
# of 6 / sqrt(N) around the reference's frequencies (the notes sum these bounds).
_codes = (_x.flatten(1) * 2 ** torch.arange(5, -1, -1)).sum(1).long()
report("pixelcnn sampler: frequencies of the 64 images of a 2 x 3 FVSBN", torch.bincount(_codes, minlength=64).double() / _n,
       atol=6 / math.sqrt(_n))
report("pixelcnn sampler: images of a sure 4 x 5 model",
       sample_pixelcnn(_Sure(), 3, 4, 5, torch.Generator().manual_seed(433)).cpu(), atol=0)
_first, _second = (sample_pixelcnn(_fvsbn, 200, 2, 3, torch.Generator().manual_seed(434)).cpu() for _ in range(2))
report("pixelcnn sampler: draws that differ between two runs from one seed", (_first != _second).sum(), atol=0)
### END HIDDEN TESTS

# %% [markdown] id=q4e-intro
# ## 4e. Training, exact NLL and samples (3 points)
#
# Maximum likelihood on dynamically binarized training images; the score is the exact test NLL of the statically
# binarized test images, in nats per image. The yardstick: the best model with **independent** pixels, whose
# $p(x_j = 1)$ is the training images' mean of pixel $j$ (Krichevsky–Trofimov smoothed, so that no test pixel has
# probability 0). Everything a PixelCNN gains over it comes from the dependencies between pixels.

# %% id=q4e-train
pixelcnn_losses = train(pixelcnn, lambda model, x: pixelcnn_nll(model, x).mean(),
                        minibatches(grey_train, pixelcnn_config["batch_size"], "binarized", generator),
                        pixelcnn_config["num_steps"], pixelcnn_config["lr"], pixelcnn_config["max_seconds"],
                        desc="PixelCNN")
plot_curves({"training NLL (batch mean)": pixelcnn_losses}, ylabel="nats per image")
plt.show()
pixel_means = (grey_train.flatten(1).sum(0) + 0.5) / (len(grey_train) + 1)  # (D,) smoothed p(x_j = 1)
independent_nll = F.binary_cross_entropy(pixel_means.expand(len(x_test_binary), D), x_test_binary.flatten(1),
                                         reduction="none").sum(1).double()  # (N,) nats per image
pixelcnn_test_nll = per_image(lambda x: pixelcnn_nll(pixelcnn, x), x_test_binary)  # (N,) nats per image
nll_mean, nll_error = mean_and_error(pixelcnn_test_nll)
independent_mean, independent_error = mean_and_error(independent_nll)
print(f"{len(pixelcnn_losses)} steps; test NLL (nats/image): PixelCNN {nll_mean:.2f} +- {nll_error:.2f}, "
      f"independent pixels {independent_mean:.2f} +- {independent_error:.2f}; "
      f"PixelCNN {bits_per_dim(nll_mean, D):.4f} bits/dim")
results["PixelCNN test NLL (nats/image)"] = nll_mean
results["independent-pixel baseline test NLL (nats/image)"] = independent_mean

# %% id=q4e-samples
# 784 passes of the network per batch of samples: one per pixel.
start = time.time()
pixelcnn_samples = sample_pixelcnn(pixelcnn, sized(smoke=4, cpu=16, gpu=32), 28, 28, torch.Generator().manual_seed(9))
print(f"{len(pixelcnn_samples)} samples in {time.time() - start:.1f} s")
show_images(pixelcnn_samples.cpu(), nrow=sized(smoke=4, cpu=8, gpu=8), title="PixelCNN samples")
plt.show()

# %% graded id=q4e points=3
# Graded (3 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert nll_mean < independent_mean, f"PixelCNN {nll_mean:.1f} nats vs independent pixels {independent_mean:.1f}"
### BEGIN HIDDEN TESTS
report("PixelCNN test NLL over the independent-pixel model's", nll_mean / independent_mean, compare="at_most", bound=1.0)
### END HIDDEN TESTS
