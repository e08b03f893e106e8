"""The latent audio codec (mel-VAE), its mel front-end and vocoders."""
