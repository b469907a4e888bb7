"""Steering a trained generator: latent directions (SeFa, GANSpace) and projection of images into W."""
