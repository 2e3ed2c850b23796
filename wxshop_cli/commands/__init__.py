"""One Typer module per command group: parse options, call a service, render."""
