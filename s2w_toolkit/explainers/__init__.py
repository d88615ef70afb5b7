"""Built-in explainers."""
