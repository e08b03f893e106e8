"""The ``foleyzoo`` command line: LightningCLI subcommands plus front-end commands."""
