"""The commands: one module per command group, each registering its subcommands."""
