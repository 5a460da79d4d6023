"""scikit-learn's estimator checks, run on the four estimators.

Expected failures (each truly unavoidable, with the reason):

check_sample_weight_equivalence_on_dense_data / _on_sparse_data
    Perceptron: the online rule (one update per sample) makes weight 2 differ
    from a repeated sample; scikit-learn marks its own Perceptron the same way.
"""


import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastmlp import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron

ONLINE_REASON = ("the online perceptron rule updates once per sample, so a weight of 2 is not "
                 "a repeated sample (scikit-learn's Perceptron fails it too)")
SAMPLE_WEIGHT_CHECKS = ("check_sample_weight_equivalence_on_dense_data",
                        "check_sample_weight_equivalence_on_sparse_data")


def expected_failed_checks(estimator):
    if isinstance(estimator, Perceptron):
        return {name: ONLINE_REASON for name in SAMPLE_WEIGHT_CHECKS}
    return {}


ESTIMATORS = [
    # max_iter as in scikit-learn's own test configuration for its MLPs
    MLPClassifier(max_iter=100),
    MLPRegressor(max_iter=100),
    LogisticRegression(),
    Perceptron(),
]


pytestmark = pytest.mark.usefixtures("quiet_one_thread")


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
