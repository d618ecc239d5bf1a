MUTANTS = {
    "q1-code": [
        ("no skip connection", "return x + h", "return h"),
        ("ReLU in place on the input (the sum then adds ReLU(x))", "h = self.conv1(F.relu(x))",
         "h = self.conv1(F.relu(x, inplace=True))"),
        ("post-activation: ReLU after each convolution", "h = self.conv1(F.relu(x))\n        h = self.conv2(F.relu(h))",
         "h = F.relu(self.conv1(x))\n        h = F.relu(self.conv2(h))"),
    ],
}
VARIANTS = {
    "q1-code": ['''class ResidualBlock(nn.Module):
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
'''],
}
