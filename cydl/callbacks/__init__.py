"""Callbacks with Keras' names and behaviour."""
from cydl.callbacks.backup_and_restore import BackupAndRestore
from cydl.callbacks.base import Callback, CallbackList
from cydl.callbacks.csv_logger import CSVLogger
from cydl.callbacks.early_stopping import EarlyStopping
from cydl.callbacks.gradient_stats import GradientStats
from cydl.callbacks.history import History
from cydl.callbacks.model_checkpoint import ModelCheckpoint
from cydl.callbacks.plateau import ReduceLROnPlateau
from cydl.callbacks.progbar import ProgbarLogger
from cydl.callbacks.schedulers import LambdaCallback, LearningRateScheduler, TerminateOnNaN
from cydl.callbacks.tensorboard import TensorBoard

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "EarlyStopping",
           "LearningRateScheduler", "TerminateOnNaN", "LambdaCallback", "ModelCheckpoint",
           "ReduceLROnPlateau", "CSVLogger", "BackupAndRestore", "GradientStats"]
