"""One module per `visionpipe` subcommand; each defines register(subparsers)."""
