"""ganforge: train, measure and use generative adversarial networks for images."""
__version__ = "0.1.0"
