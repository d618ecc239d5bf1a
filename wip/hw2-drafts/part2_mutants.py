MUTANTS = {
    "q2a-code": [
        ("trace from the diagonal of L only (tr(L L^T) is the sum of all squares)", "(scale_tril**2).sum((-2, -1))",
         "(diagonal**2).sum(-1)"),
        ("log det(L L^T) without the factor 2", "log_det = 2 * torch.log(diagonal).sum(-1)",
         "log_det = torch.log(diagonal).sum(-1)"),
        ("the -d forgotten", " - mu.shape[-1] - log_det)", " - log_det)"),
    ],
    "q2b-code": [
        ("z drawn with L^T instead of L", "z = mu + (scale_tril @ eps.unsqueeze(-1))",
         "z = mu + (scale_tril.mT @ eps.unsqueeze(-1))"),
        ("the Jacobian of eps -> z forgotten in log q", " - torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)", ""),
        ("log q as if the covariance were I", "log_q = -0.5 * (eps**2).sum(-1)", "log_q = -0.5 * ((z - mu) ** 2).sum(-1)"),
    ],
    "q2c-code": [
        ("log-scale used as a log-variance", "(x - mean) * torch.exp(-log_scale)", "(x - mean) * torch.exp(-0.5 * log_scale)"),
        ("the log-scale term forgotten", " - log_scale - 0.5", " - 0.5"),
        ("mean over dimensions instead of the sum", "log_density.flatten(1).sum(1)", "log_density.flatten(1).mean(1)"),
    ],
}
VARIANTS = {
    "q2a-code": ['''def kl_closed_form(mu, scale_tril):
    q = torch.distributions.MultivariateNormal(mu, scale_tril=scale_tril)
    d = mu.shape[-1]
    prior = torch.distributions.MultivariateNormal(torch.zeros(d, dtype=mu.dtype), torch.eye(d, dtype=mu.dtype))
    return torch.distributions.kl_divergence(q, prior)
''', '''def kl_closed_form(mu, scale_tril):
    covariance = scale_tril @ scale_tril.transpose(-1, -2)
    return 0.5 * (torch.diagonal(covariance, dim1=-2, dim2=-1).sum(-1) + (mu * mu).sum(-1) - mu.size(-1)
                  - torch.logdet(covariance))
'''],
    "q2b-code": ['''def kl_monte_carlo(mu, scale_tril, eps):
    z = mu + torch.einsum("bij,bj->bi", scale_tril, eps)
    q = torch.distributions.MultivariateNormal(mu, scale_tril=scale_tril)
    return q.log_prob(z) - torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
'''],
    "q2c-code": ['''def gaussian_log_likelihood(x, mean, log_scale):
    return torch.distributions.Normal(mean, log_scale.exp()).log_prob(x).reshape(len(x), -1).sum(-1)
'''],
}
