"""Scripts that make, evaluate and publish the models: run them as `python -m training.<name>`."""
