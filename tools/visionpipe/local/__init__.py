"""Local mode: every flow of template.yaml on one machine, against moto's server (see stack.py)."""
