"""The ``harkd`` command line: one module per subcommand, each with ``register``."""
