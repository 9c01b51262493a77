"""Private compiled kernels. Import them through :mod:`cydl.ops`, never directly."""
