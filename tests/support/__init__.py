"""Helpers the tests share: real images, tiny real ONNX models, a Lambda context."""
