MUTANTS = {
    "q3a-code": [
        ("log p(x | z) as a mean over pixels", "log_px_z = -bce.flatten(2).sum(-1)", "log_px_z = -bce.flatten(2).mean(-1)"),
        ("the log-determinant of L forgotten in log q",
         " - torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)", ""),
        ("log(sigmoid) formed explicitly (log 0 for confident float32 logits)",
         "bce = F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction=\"none\")",
         "bce = -(x * torch.log(torch.sigmoid(logits)) + (1 - x) * torch.log(1 - torch.sigmoid(logits)))"),
    ],
    "q3b-code": [
        ("an average of the chunks' log-mean-exps (a looser bound)",
         "torch.logsumexp(torch.stack(chunk_logsumexps), dim=0) - math.log(k)",
         "(torch.stack(chunk_logsumexps) - math.log(chunk_size)).mean(0)"),
        ("exp before the sum (underflows in float32)", "torch.logsumexp(sample_log_weights(n), dim=0)",
         "torch.log(torch.exp(sample_log_weights(n)).sum(0))"),
        ("always a full chunk: more than k draws", "n = min(chunk_size, k - drawn)", "n = chunk_size"),
    ],
}
VARIANTS = {
    "q3a-code": ['''def log_importance_weights(x, mu, scale_tril, eps, decode_logits):
    k, B, d = eps.shape
    z = mu + torch.einsum("bij,kbj->kbi", scale_tril, eps)
    logits = decode_logits(z.flatten(0, 1)).unflatten(0, (k, B))
    log_px_z = torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(2).sum(-1)
    q = torch.distributions.MultivariateNormal(mu, scale_tril=scale_tril)
    prior = torch.distributions.Normal(torch.zeros((), dtype=z.dtype), torch.ones((), dtype=z.dtype))
    return log_px_z + prior.log_prob(z).sum(-1) - q.log_prob(z)
'''],
    "q3b-code": ['''def log_mean_exp_in_chunks(sample_log_weights, k, chunk_size):
    running_max, running_sum, left = None, None, k  # a streaming logsumexp
    while left > 0:
        log_w = sample_log_weights(min(left, chunk_size))
        left -= len(log_w)
        chunk_max = log_w.max(0).values
        new_max = chunk_max if running_max is None else torch.maximum(running_max, chunk_max)
        chunk_sum = torch.exp(log_w - new_max).sum(0)
        running_sum = chunk_sum if running_sum is None else running_sum * torch.exp(running_max - new_max) + chunk_sum
        running_max = new_max
    return running_max + torch.log(running_sum / k)
''', '''def log_mean_exp_in_chunks(sample_log_weights, k, chunk_size):
    sizes = [chunk_size] * (k // chunk_size) + ([k % chunk_size] if k % chunk_size else [])
    all_log_w = torch.cat([sample_log_weights(n) for n in sizes])  # (k, B): small enough to keep
    return torch.logsumexp(all_log_w, 0) - math.log(len(all_log_w))
'''],
}
