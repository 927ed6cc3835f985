"""The command line: `latent-atelier-cli` (main) and its subcommands."""
