"""visionpipe's shared runtime package: what every Lambda handler imports (via layers/common)."""
