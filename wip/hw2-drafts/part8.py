# %% [markdown] answer id=reflection
# ## Reflection (not graded)
#
# In four to six sentences: which of the models gives MNIST the highest likelihood, and why do the three families
# differ (what does each assume about the pixels)? What did the full-covariance posterior and the IAF buy over a
# simpler posterior, and what did they cost? When does a PixelVAE use its latent code, and what did your remedy do?
# Which numbers would you not compare with each other (binarized vs grey-level data; bounds vs estimates)?
#
# ### BEGIN SOLUTION
# The autoregressive PixelCNN assumes nothing beyond an ordering of the pixels and models every conditional exactly,
# so it gives binarized MNIST the lowest NLL; the VAEs assume the pixels independent given a low-dimensional code, and
# pay for it in blurry means and a looser likelihood, even with importance sampling. The full-covariance posterior
# costs only d(d-1)/2 extra outputs, and the IAF two small masked networks per draw; the IAF tightened the ELBO by
# matching the true posterior better, and its gain in the importance-sampled NLL is smaller, as expected, since
# importance sampling already corrects a poor proposal. A PixelVAE with a strong decoder can model each image without
# the code, so the KL, which is all the code costs, falls toward zero (posterior collapse); the remedy keeps some
# information in z at a small price in the bound. Binarized-MNIST nats (Parts 3–6) and dequantized grey-level bits/dim
# (Parts 2 and 7) measure different data and are not comparable; ELBOs are bounds, L_k with large k estimates.
# ### END SOLUTION

# %% [markdown] id=results-intro
# ## Results
#
# Your numbers beside the reference solution's (the README's "Reference results" table lists the reference at each
# scale: smoke, a laptop CPU, a GPU):

# %% id=results
print(f"scale: {SCALE}")
for name, value in results.items():
    print(f"{name:>52}: {value:10.4f}")

# %% [markdown] id=summary
# ## Summary
#
# - A VAE's ELBO has a closed-form KL for Gaussian posteriors, full-covariance ones included; a one-draw Monte Carlo KL
#   is unbiased and has a computable variance. Dequantized densities are reported in bits/dim with the $D \ln 256$ term.
# - Importance sampling with the encoder as proposal turns the ELBO into an estimate of $\log p(x)$; it must be
#   computed on log-weights, and chunks must be merged into one average of all $k$ weights.
# - PixelCNN's masks make every output depend on earlier pixels only — a property to check with gradients — and give an
#   exact likelihood at the price of sequential sampling.
# - An IAF makes the posterior flexible at the cost of one autoregressive pass per step, with a log-det that is a sum.
# - Coupling flows give exact likelihoods and fast sampling; the logit transform and its log-det are part of the model.
#
# ## References
#
# - D. P. Kingma and M. Welling, "Auto-encoding variational Bayes", 2014; D. J. Rezende, S. Mohamed and D. Wierstra,
#   "Stochastic backpropagation and approximate inference in deep generative models", 2014.
# - Y. Burda, R. Grosse and R. Salakhutdinov, "Importance weighted autoencoders", 2016.
# - K. He, X. Zhang, S. Ren and J. Sun, "Deep residual learning" and "Identity mappings in deep residual networks", 2016.
# - A. van den Oord, N. Kalchbrenner and K. Kavukcuoglu, "Pixel recurrent neural networks", 2016.
# - D. P. Kingma, T. Salimans, R. Jozefowicz, X. Chen, I. Sutskever and M. Welling, "Improved variational inference with
#   inverse autoregressive flow", 2016; M. Germain, K. Gregor, I. Murray and H. Larochelle, "MADE", 2015.
# - I. Gulrajani et al., "PixelVAE", 2017; X. Chen et al., "Variational lossy autoencoder", 2017; S. R. Bowman et al.,
#   "Generating sentences from a continuous space", 2016 (KL warm-up).
# - L. Dinh, J. Sohl-Dickstein and S. Bengio, "Density estimation using Real NVP", 2017; L. Theis, A. van den Oord and
#   M. Bethge, "A note on the evaluation of generative models", 2016.
# - The seed course: UW CSE 599i "Generative Models" (J. Thickstun), Homework 2.
