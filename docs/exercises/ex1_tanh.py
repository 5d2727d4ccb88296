r"""Exercise 1: tanh' and tanh'' (docs/derivation.md, Section 2).

A hidden layer computes ``a = tanh(z)``. The input gradient needs tanh' and
the second-order backprop tanh''; the network keeps only ``a`` from the forward
pass, so both are written in terms of ``a``::

    s1 = tanh'(z)  = 1 - a**2
    s2 = tanh''(z) = -2 a s1

Fill in the two functions, then run ``make exercises`` (or only this one:
``.venv/bin/python -m pytest -q docs/exercises/test_ex1_tanh.py``).
"""

import numpy as np


def tanh_prime(z):
    r"""tanh'(z) elementwise: s1 = 1 - a**2 with a = tanh(z).

    Parameters
    ----------
    z : ndarray, any shape, float32 or float64

    Returns
    -------
    s1 : ndarray, the shape and dtype of z

    Hints
    -----
    * Differentiate tanh = sinh / cosh by the quotient rule and use
      cosh**2 - sinh**2 = 1.
    * Compute ``a = np.tanh(z)`` once and build s1 from it. The equal
      1 / cosh(z)**2 overflows for |z| > 710, where tanh'(z) is simply 0.
    """
    raise NotImplementedError("exercise 1: tanh_prime(z), s1 = 1 - tanh(z)**2")


def tanh_second(z):
    r"""tanh''(z) elementwise: s2 = -2 a s1 with a = tanh(z), s1 = 1 - a**2.

    Parameters
    ----------
    z : ndarray, any shape, float32 or float64

    Returns
    -------
    s2 : ndarray, the shape and dtype of z

    Hints
    -----
    * d/dz (1 - a**2) = -2 a da/dz, and da/dz is s1.
    * tanh'' is odd: s2(-z) = -s2(z), and it is largest in size near
      |z| = 0.66, where it is about 0.77.
    """
    raise NotImplementedError("exercise 1: tanh_second(z), s2 = -2 a (1 - a**2) with a = tanh(z)")
