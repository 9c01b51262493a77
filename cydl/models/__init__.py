"""Models: Model (functional) and Sequential."""
from cydl.models.model import Model
from cydl.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
