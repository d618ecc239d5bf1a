# %% [markdown] id=q1-intro
# # Part 1 — A residual convolutional block (6 points)
#
# Every network of this homework is a stack of **residual blocks** (He et al., 2016): a block computes a
# correction $F(x)$ and adds it to its input, $x + F(x)$, so that a deep stack starts near the identity and gradients
# reach the first layers through the additions. We use the *pre-activation* form (He et al., 2016b; the seed
# course's HW2), without normalization layers, which batch statistics would couple across the images whose
# likelihoods we compute:
# $$ \operatorname{block}(x) = x + \operatorname{conv}_2\big(\operatorname{ReLU}(\operatorname{conv}_1(\operatorname{ReLU}(x)))\big), $$
# both convolutions $3 \times 3$ with padding 1, so that the block maps $(B, C, H, W)$ to $(B, C, H, W)$.
# (Lecture 7's block is He et al.'s original: BatchNorm, ReLU *after* the sum.)
#
# Write `forward`. It must not change its input tensor (the input is needed for the sum).

# %% answer id=q1-code
class ResidualBlock(nn.Module):
    """x + conv2(relu(conv1(relu(x)))), 3 x 3 convolutions with padding 1: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1)

    def forward(self, x):
        ### BEGIN SOLUTION
        h = self.conv1(F.relu(x))
        h = self.conv2(F.relu(h))
        return x + h
        ### END SOLUTION

# %% id=q1-check
# Self-check: the shape is kept; with the last convolution zeroed the block is the identity; the input is unchanged;
# and the correction sees only ReLU(x): inputs that agree where they are positive give the same correction.
torch.manual_seed(1)
block = ResidualBlock(4).double()
x = torch.randn(2, 4, 9, 7, dtype=torch.float64)
x_before = x.clone()
out = block(x)
assert out.shape == x.shape, f"shape {tuple(out.shape)}, not {tuple(x.shape)}"
assert torch.equal(x, x_before), "forward changed its input"
x_other = torch.where(x > 0, x, -3 * torch.rand_like(x))  # the same positive part, other negative values
assert torch.allclose(block(x_other) - x_other, out - x), "the correction should depend on ReLU(x) only"
with torch.no_grad():
    block.conv2.weight.zero_()
    block.conv2.bias.zero_()
assert torch.equal(block(x), x), "with conv2 = 0 the block must be the identity"
print("1 self-check passed")

# %% graded id=q1 points=6
# Graded (6 points): do not edit. The autograder runs its own copy of this cell, with hidden tests.
assert ResidualBlock(3)(torch.zeros(1, 3, 5, 5)).shape == (1, 3, 5, 5)
### BEGIN HIDDEN TESTS
torch.manual_seed(101)
_block = ResidualBlock(3).double()
_x = torch.randn(2, 3, 6, 5, generator=torch.Generator().manual_seed(102), dtype=torch.float64)
_x_before = _x.clone()
report("residual block output", _block(_x), rtol=1e-9, atol=1e-9)
report("residual block: input entries changed by forward", (_x != _x_before).sum(), atol=0)
_wide = ResidualBlock(5).double()
report("residual block output, 5 channels", _wide(2 * torch.randn(1, 5, 4, 8, generator=torch.Generator().manual_seed(103),
                                                                 dtype=torch.float64)), rtol=1e-9, atol=1e-9)
### END HIDDEN TESTS
