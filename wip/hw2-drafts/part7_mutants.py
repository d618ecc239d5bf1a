# Mutants and variants of Part 7 (RealNVP), for check_mutants.py. Each mutant: (what the mistake is, old, new).
MUTANTS = {
    "q7a-code": [
        ("conditioner fed the unmasked input (not invertible)", "self.net(x * self.mask)", "self.net(x)"),
        ("inverse with exp(+s)", "(y - free * shift) * torch.exp(-log_scale)",
         "(y - free * shift) * torch.exp(log_scale)"),
        ("log-det with the wrong sign", "return y, log_scale.sum(dim=(1, 2, 3))",
         "return y, -log_scale.sum(dim=(1, 2, 3))"),
        ("log-det over the kept coordinates too (s not masked in the sum)",
         "return y, log_scale.sum(dim=(1, 2, 3))",
         "return y, (self.scale * torch.tanh(raw_log_scale)).sum(dim=(1, 2, 3))"),
        ("inverse: divides first, then subtracts the shift", "(y - free * shift) * torch.exp(-log_scale)",
         "y * torch.exp(-log_scale) - free * shift"),
        ("checkerboard parity flipped", "(rows + cols) % 2 == parity", "(rows + cols) % 2 != parity"),
        ("channel mask: halves swapped", "kept = first_half if parity == 0 else 1 - first_half",
         "kept = first_half if parity == 1 else 1 - first_half"),
        ("channel mask: ceil(C / 2) channels for odd C", "torch.arange(channels) < channels // 2",
         "torch.arange(channels) < (channels + 1) // 2"),
        ("shift and log-scale swapped", "raw_log_scale, shift = self.net(x * self.mask).chunk(2, dim=1)",
         "shift, raw_log_scale = self.net(x * self.mask).chunk(2, dim=1)"),
        ("log-det averaged over coordinates", "return y, log_scale.sum(dim=(1, 2, 3))",
         "return y, log_scale.mean(dim=(1, 2, 3))"),
    ],
    "q7b-code": [
        ("logit log-det with the wrong sign",
         "(math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p))",
         "(-math.log(1 - 2 * alpha) + torch.log(p) + torch.log1p(-p))"),
        ("the factor 1 - 2 alpha forgotten in the log-det",
         "(math.log(1 - 2 * alpha) - torch.log(p) - torch.log1p(-p))",
         "(-torch.log(p) - torch.log1p(-p))"),
        ("the logit transform's log-det left out of the NLL", "-(log_prior + log_det_flow + log_det_logit)",
         "-(log_prior + log_det_flow)"),
        ("the flow's log-det subtracted", "-(log_prior + log_det_flow + log_det_logit)",
         "-(log_prior - log_det_flow + log_det_logit)"),
        ("prior without the (D / 2) log 2 pi constant", " - 0.5 * z.shape[1] * math.log(2 * math.pi)", ""),
        ("inverse without the division by 1 - 2 alpha", "(torch.sigmoid(y) - alpha) / (1 - 2 * alpha)",
         "torch.sigmoid(y) - alpha"),
        ("logit of x itself, alpha unused", "y = torch.log(p) - torch.log1p(-p)", "y = torch.log(x) - torch.log1p(-x)"),
        ("prior summed over the last axis only", "z = z.flatten(1)  # (B, D)", "z = z.flatten(2)"),
    ],
}

VARIANTS = {
    "q7a-code": [
        # torch.where masks built by loops; the coupling with unmasked (s, t) combined by the mask at the end.
        '''
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
''',
    ],
    "q7b-code": [
        # torch.logit, the log-det by softplus (log p(1 - p) = -softplus(-y) - softplus(y)), torch.distributions.
        '''
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
''',
    ],
}
