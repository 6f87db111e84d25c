"""CLI command groups beyond translate and model, one module each; cli.py registers them."""
