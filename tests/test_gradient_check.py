"""gradient_check: centered differences against known derivatives, and a clear error for integer arrays."""
import numpy as np
import pytest

from gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error


def test_numerical_gradients_of_known_functions():
    x = np.array([[0.3, -1.2], [2.0, 0.7]])
    grad = eval_numerical_gradient(lambda v: np.sum(v ** 3), x, verbose=False)
    assert rel_error(grad, 3 * x ** 2) < 1e-8
    df = np.array([[1.0, -2.0], [0.5, 3.0]])
    grad = eval_numerical_gradient_array(lambda v: np.sin(v), x, df)
    assert rel_error(grad, np.cos(x) * df) < 1e-8
    np.testing.assert_array_equal(x, [[0.3, -1.2], [2.0, 0.7]])   # restored after probing


@pytest.mark.parametrize("probe", [
    lambda x: eval_numerical_gradient(lambda v: np.sum(v ** 2), x, verbose=False),
    lambda x: eval_numerical_gradient_array(lambda v: v * 2, x, np.ones(3)),
])
def test_integer_arrays_are_refused_instead_of_giving_garbage(probe):
    with pytest.raises(TypeError, match=r"x must be a floating-point numpy array .* x.astype\(np.float64\)"):
        probe(np.array([1, 2, 3]))
