"""Layers with Keras' names and defaults."""
from cydl.layers.activations import PReLU
from cydl.layers.base import Layer
from cydl.layers.core import (ELU, Activation, Flatten, Identity, LeakyReLU, ReLU, Reshape,
                              Softmax)
from cydl.layers.dense import Dense
from cydl.layers.input_layer import Input, InputLayer, KerasTensor
from cydl.layers.lambda_layer import Lambda
from cydl.layers.merging import (Add, Average, Concatenate, Maximum, Minimum, Multiply,
                                 Subtract, add, average, concatenate, maximum, minimum,
                                 multiply, subtract)
from cydl.layers.noise import GaussianDropout, GaussianNoise
from cydl.layers.normalization import BatchNormalization
from cydl.layers.preprocessing import Normalization
from cydl.layers.regularization import AlphaDropout, Dropout
from cydl.layers.rescaling import Rescaling
from cydl.layers.unit_normalization import UnitNormalization

__all__ = ["Layer", "Input", "InputLayer", "KerasTensor", "Dense", "Flatten", "Reshape",
           "Activation", "LeakyReLU", "ReLU", "ELU", "Softmax", "Add", "Average", "Concatenate",
           "Maximum", "Minimum", "Multiply", "Subtract", "add", "average", "concatenate",
           "maximum", "minimum", "multiply", "subtract", "BatchNormalization", "Dropout",
           "AlphaDropout", "PReLU", "Normalization", "Identity", "Lambda", "GaussianNoise",
           "GaussianDropout", "Rescaling", "UnitNormalization"]
