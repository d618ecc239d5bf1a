MUTANTS = {
    "q4a-code": [
        ("mask A keeps the centre", 'if mask_type == "B":', 'if mask_type in "AB":'),
        ("mask types swapped (A keeps the centre, B drops it)", 'if mask_type == "B":', 'if mask_type == "A":'),
        ("column-major order: the mask transposed", "    return mask\n", "    return mask.T\n"),
        ("off by one: the row just above the centre dropped", "mask[:centre, :] = 1", "mask[:centre - 1, :] = 1"),
        ("forward ignores the mask", "self.weight * self.mask", "self.weight"),
    ],
    "q4b-code": [
        ("no skip connection", "return x + h", "return h"),
        ("ReLU in place on the input (the sum then adds ReLU(x))", "h = self.reduce(F.relu(x))",
         "h = self.reduce(F.relu(x, inplace=True))"),
        ("post-activation: ReLU after each convolution",
         "h = self.reduce(F.relu(x))  # (B, h, H, W)\n        h = self.masked(F.relu(h))",
         "h = F.relu(self.reduce(x))  # (B, h, H, W)\n        h = F.relu(self.masked(h))"),
        ("the ReLU before the masked layer forgotten", "h = self.masked(F.relu(h))", "h = self.masked(h)"),
    ],
    "q4c-code": [
        ("no absolute value", "return torch.stack(rows).abs()", "return torch.stack(rows)"),
        ("transposed: row j = input pixel", "return torch.stack(rows).abs()", "return torch.stack(rows).abs().T"),
        ("column-major flattening of the input gradient", "rows.append(grad.reshape(H * W))",
         "rows.append(grad[0, 0].T.reshape(H * W))"),
        ("one backward pass of the sum of all logits", "torch.autograd.grad(logits[i], x, retain_graph=True)",
         "torch.autograd.grad(logits.sum(), x, retain_graph=True)"),
        ("gradients accumulated in x.grad across output pixels",
         "(grad,) = torch.autograd.grad(logits[i], x, retain_graph=True)  # (1, 1, H, W) = d logit_i / d x",
         "logits[i].backward(retain_graph=True)\n        grad = x.grad.clone()"),
    ],
    "q4d-code": [
        ("column-major order", "for row in range(height):\n        for col in range(width):",
         "for col in range(width):\n        for row in range(height):"),
        ("logits used as probabilities", "probs = torch.sigmoid(model(x)[:, 0, row, col])",
         "probs = model(x)[:, 0, row, col].clamp(0, 1)"),
        ("one pass for all pixels (the logits of the empty image)",
         "probs = torch.sigmoid(model(x)[:, 0, row, col])",
         "probs = torch.sigmoid(model(torch.zeros_like(x))[:, 0, row, col])"),
        ("the previous pixel's logit", "probs = torch.sigmoid(model(x)[:, 0, row, col])",
         "probs = torch.sigmoid(model(x).flatten(1)[:, max(row * width + col - 1, 0)])"),
        ("sign: 1 with probability sigma(-logit)", "x[:, 0, row, col] = (u < probs).to(x.dtype)",
         "x[:, 0, row, col] = (u > probs).to(x.dtype)"),
        ("the global random state instead of the generator", "torch.rand(n, generator=generator)", "torch.rand(n)"),
    ],
}

VARIANTS = {
    "q4a-code": ['''def causal_mask(kernel_size, mask_type):
    """(kernel_size, kernel_size) float: 1 at the offsets before the centre in raster order (and, for mask "B",
    at the centre itself), 0 elsewhere."""
    k = kernel_size
    # raster index of each offset; the centre's index is k * k // 2
    return (torch.arange(k * k) < k * k // 2 + (mask_type == "B")).float().view(k, k)


class MaskedConv2d(nn.Conv2d):
    """A k x k convolution (k odd, padding k // 2) whose kernel is multiplied by causal_mask(k, mask_type):
    (B, C_in, H, W) -> (B, C_out, H, W)."""

    def __init__(self, in_channels, out_channels, kernel_size, mask_type):
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.register_buffer("mask", causal_mask(kernel_size, mask_type))  # (k, k), the same for every channel pair

    def forward(self, x):
        return self._conv_forward(x, self.mask[None, None] * self.weight, self.bias)
'''],
    "q4b-code": ['''class MaskedResidualBlock(nn.Module):
    """x + expand(relu(masked(relu(reduce(relu(x)))))): (B, 2h, H, W) -> (B, 2h, H, W), where masked is the given
    causal 3 x 3 layer on h channels."""

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
'''],
    "q4c-code": ['''def causality_jacobian(model, x):
    H, W = x.shape[-2:]
    jacobian = torch.func.jacrev(lambda inp: model(inp).reshape(H * W))(x.detach())  # (HW, 1, 1, H, W)
    return jacobian.reshape(H * W, H * W).abs()
''', '''def causality_jacobian(model, x):
    H, W = x.shape[-2:]
    J = torch.zeros(H * W, H * W, dtype=x.dtype)
    for i in range(H * W):
        inp = x.detach().clone().requires_grad_(True)
        model(inp).flatten()[i].backward()
        J[i] = inp.grad.flatten().abs().cpu()
    return J
'''],
    "q4d-code": ['''@torch.no_grad()
def sample_pixelcnn(model, n, height, width, generator):
    x = torch.zeros(n, 1, height, width, device=device)  # pixels not drawn yet are 0
    for i in range(height * width):
        row, col = divmod(i, width)
        logits = model(x)[:, 0, row, col].double().cpu()
        x[:, 0, row, col] = torch.bernoulli(torch.sigmoid(logits), generator=generator).to(x)
    return x
''', '''@torch.no_grad()
def sample_pixelcnn(model, n, height, width, generator):
    x = torch.zeros(n, 1, height, width, device=device)  # pixels not drawn yet are 0
    u = torch.rand(height, width, n, generator=generator, dtype=torch.float64)  # all the uniforms at once
    for row in range(height):
        for col in range(width):
            logit = model(x)[:, 0, row, col].double().cpu()
            # x = 1 iff u > 1 - sigma(l) = sigma(-l), i.e. log u - log(1 - u) > -l
            x[:, 0, row, col] = (torch.logit(u[row, col]) > -logit).to(x)
    return x
'''],
}
