MUTANTS = {
    "q5a-code": [
        ("the log-determinant added instead of subtracted", "log_q = log_q - F.logsigmoid(s).sum(-1)",
         "log_q = log_q + F.logsigmoid(s).sum(-1)"),
        ("no reversal between steps", "        if t > 0:\n            z = z.flip(-1)", "        pass"),
        ("z and m swapped in the update", "z = gate * z + (1 - gate) * m", "z = gate * m + (1 - gate) * z"),
    ],
    "q5b-code": [
        ("log |det J| added instead of subtracted", "return log_q0 - torch.linalg.slogdet", "return log_q0 + torch.linalg.slogdet"),
        ("log det without the absolute value (NaN where det < 0)", "torch.linalg.slogdet(jacobians).logabsdet",
         "torch.logdet(jacobians)"),
        ("the gradient of the sum of all outputs for every row", "out[:, i].sum()", "out.sum()"),
    ],
}
VARIANTS = {
    "q5a-code": ['''def iaf_transform(z, log_q, context, steps):
    for t in range(len(steps)):
        m, s = steps[t](z, context)
        z = m + torch.sigmoid(s) * (z - m)  # the same gated update
        log_q = log_q - (s - F.softplus(s)).sum(dim=1)  # log sigmoid(s) = s - softplus(s)
        if t < len(steps) - 1:
            z = torch.flip(z, dims=[1])
    return z, log_q
'''],
    "q5b-code": ['''def log_q_by_jacobian(transform, z0, log_q0):
    full = torch.autograd.functional.jacobian(transform, z0)  # (B, d, B, d)
    index = torch.arange(len(z0))
    blocks = full[index, :, index, :]  # (B, d, d): each image's own block
    return log_q0 - torch.slogdet(blocks)[1]
''', '''def log_q_by_jacobian(transform, z0, log_q0):
    out = []
    for b in range(len(z0)):
        def one_row(v, b=b):
            rows = z0.clone()
            rows[b] = v
            return transform(rows)[b]
        jacobian = torch.autograd.functional.jacobian(one_row, z0[b])
        out.append(log_q0[b] - torch.linalg.slogdet(jacobian)[1])
    return torch.stack(out)
'''],
}
