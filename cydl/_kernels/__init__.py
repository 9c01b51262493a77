"""Private compiled kernels. Import them through :mod:`cydl._ops`, never directly."""
