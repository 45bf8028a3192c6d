"""The reference examples, defined once for the CLI, the notebooks and the tests."""
