"""What each kind of model file records: every kind's list, in one place.

An estimator's record holds
  config      its constructor parameters (get_params());
  attributes  exactly the attributes listed here for its kind;
  model       the inner MLP (the attribute MODEL_ATTRIBUTE) as a nested record.
An MLP's record holds its configuration and arrays only (mlp_codec.py).

Attributes not listed are not saved: they are rebuilt from the weights or
set again by every fit before anything reads them. Reading a file, an
attribute that is neither listed nor in OLD_FILE_ATTRIBUTES is an error, so
a file cannot set arbitrary attributes (or shadow a method) on an estimator.

The names are the file format: renaming an estimator's attribute means
mapping the old name here, not changing what files hold.
"""

from dataclasses import dataclass

from . import value_checks as expect

# Where an estimator keeps its MLP; saved as the nested record.
MODEL_ATTRIBUTE = "_model"


@dataclass(frozen=True)
class Saved:
    """One attribute an estimator's record holds (when `required`, always)."""

    name: str
    expected: expect.Expected
    required: bool = True


def optional(name, expected):
    """Saved when the estimator has it: some fits (or solvers) never set it."""
    return Saved(name, expected, required=False)


EVERY_ESTIMATOR = (
    Saved("n_features_in_", expect.COUNT),
    optional("feature_names_in_", expect.STRINGS),
    Saved("n_layers_", expect.COUNT),
    Saved("n_outputs_", expect.COUNT),
    Saved("out_activation_", expect.NAME),
    Saved("n_params_", expect.COUNT),
    Saved("n_iter_", expect.COUNT),
    optional("loss_", expect.REAL),
    # Private: the generator that shuffles each epoch, so training on after
    # loading draws the same orders it would have drawn without the round trip.
    Saved("_rng", expect.GENERATOR),
)

# The samples seen: a count for the MLPs; the Perceptron's is scikit-learn's
# float, 1 + epochs x rows (an integer count in files from before).
SAMPLES_SEEN = (Saved("t_", expect.COUNT),)
PERCEPTRON_SAMPLES_SEEN = (Saved("t_", expect.NON_NEGATIVE_REAL),)

CLASSIFIERS = (
    Saved("classes_", expect.LABELS),
    # Private: maps labels to network outputs and back; predict needs it.
    Saved("_label_binarizer", expect.BINARIZER),
)

# Set by the 'sgd' and 'adam' solvers; absent after an 'lbfgs' fit.
STOCHASTIC_SOLVERS = (
    optional("loss_curve_", expect.REALS),
    optional("best_loss_", expect.REAL_OR_NONE),
    optional("validation_scores_", expect.REALS_OR_NONE),
    optional("validation_loss_curve_", expect.REALS_OR_NONE),
    optional("best_validation_score_", expect.REAL_OR_NONE),
    # Private: the epochs without improvement so far, which warm_start and
    # partial_fit carry on counting against n_iter_no_change.
    optional("_no_improvement_count", expect.COUNT),
)

PERCEPTRON_TRAINING = (
    Saved("loss_curve_", expect.REALS),
    optional("validation_scores_", expect.REALS_OR_NONE),
)

SAVED_ATTRIBUTES = {
    "MLPClassifier": EVERY_ESTIMATOR + SAMPLES_SEEN + CLASSIFIERS + STOCHASTIC_SOLVERS,
    "MLPRegressor": EVERY_ESTIMATOR + SAMPLES_SEEN + STOCHASTIC_SOLVERS,
    "LogisticRegression": EVERY_ESTIMATOR + SAMPLES_SEEN + CLASSIFIERS + STOCHASTIC_SOLVERS,
    "Perceptron": EVERY_ESTIMATOR + PERCEPTRON_SAMPLES_SEEN + CLASSIFIERS + PERCEPTRON_TRAINING,
}

# Private attributes with one value after loading, whatever the file says:
# the file holds no optimizer state, so the next fit must start it afresh.
# Also written with that value, for fastmlp 0.1.0, which expects to read it.
RESET_ON_LOAD = {"_optimizer_ready": False}

# Written by fastmlp 0.1.0 (which saved every instance attribute) and no
# longer: accepted in a file, checked to decode, then dropped. coef_ and
# intercept_ are rebuilt from the weights; each fit sets the others before
# it reads them.
OLD_FILE_ATTRIBUTES = frozenset({
    "coef_", "intercept_", "_has_eval_set", "_uses_validation_now", "_current_l2",
    "_learning_rate_",
})
