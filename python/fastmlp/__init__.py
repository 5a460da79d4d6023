"""fastmlp: fast CPU training of perceptrons, logistic regression and MLPs."""
