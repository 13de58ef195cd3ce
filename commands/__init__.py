"""The command line (click) and the pydantic models that validate its input."""
