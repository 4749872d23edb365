"""Layers, losses, optimizers and Keras-style training, built on engine's public API."""
