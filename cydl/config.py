"""Global settings, as keras.config: floatx, set_floatx, epsilon."""
from cydl._config import epsilon, floatx, set_floatx

__all__ = ["floatx", "set_floatx", "epsilon"]
