"""visionpipe development and ops tooling: local mode, training, dataset tools, device loop."""
