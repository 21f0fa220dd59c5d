"""grader: an exam trainer for killercoda-style Kubernetes practice environments."""

__version__ = "0.1.0"
