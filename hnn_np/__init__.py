"""hnn_np: Hamiltonian Neural Networks written from scratch in NumPy.

No autograd anywhere: the forward pass, the input gradient, the second-order
backprop through it, Adam and the DOP853 integrator are all written by hand.
"""

__version__ = "0.1.0"
